/** `run`: experiments by name or spec path; charts, a summary table and runs.html. (`start` is `run` of the main experiments.) */
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { loadExperiment } from '../../catalog/experiments.js';
import { writeRunPages } from '../../figures/pages.js';
import { runTasks, stopSignal, type RunTask } from '../../study/pool.js';
import { count } from '../../text/plural.js';
import { checkDataAvailable } from '../../train/build.js';
import { expandRuns, type RunConfig } from '../../train/config.js';
import { lockFolder } from '../../train/lock.js';
import { completedSummary, runDirName } from '../../train/run.js';
import { ensureDir } from '../../train/run_files.js';
import { loadVariants } from '../../variants/modules.js';
import { outDir, timestamp } from '../args.js';
import {
  chartFlags,
  flag,
  resolveBackend,
  resolveCheckpointEvery,
  resolveRunOverrides,
  resolveView,
  resolveWorkers,
  withOptions,
  type BackendFlags,
  type ChartFlags,
  type RunOverrideFlags,
  type WorkersFlags,
} from '../flags.js';
import { createProgress } from '../progress.js';
import { findRunDirs, loadRuns, renderRuns } from '../runs_view.js';
import { INTERRUPTED, progressEvents, reportWarnings, withGracefulStop, type ExitStatus, type RegisterCommand } from '../session.js';

export interface RunFlags extends BackendFlags, WorkersFlags, ChartFlags, RunOverrideFlags {
  out?: string;
  checkpointEvery?: string;
  require?: string[];
}

/** The page `start` and `run` write next to their runs. */
const RUNS_HTML = 'runs.html';

/** The flags of `start` and `run`. */
export function addRunFlags(cmd: Command): Command {
  return withOptions(
    cmd,
    flag.require(),
    flag.steps('training steps per run (overrides the spec)'),
    flag.seeds(),
    flag.optimizers(),
    flag.lr(),
    flag.precision(),
    flag.backend('tfjs backend (default: tensorflow if installed, else wasm, else cpu; env OPT_SANDBOX_BACKEND)'),
    flag.out('output folder (default: runs/<timestamp>-<name>)'),
    flag.quick('a seconds-long smoke version of each experiment'),
    flag.workers(),
    ...chartFlags(),
    flag.checkpointEvery(),
  );
}

/**
 * Train every run of the named experiments into one folder, then print the charts and the table
 * and write the figures. `name` is the default folder's suffix; `footer` a last line to print.
 */
export async function runExperiments(names: readonly string[], flags: RunFlags, name: string, footer?: string): Promise<ExitStatus> {
  // Everything that can be wrong with the request is checked before any file is written.
  const view = resolveView(flags);
  // Variants first: --optimizers and the specs may name them.
  await loadVariants(flags.require);
  const overrides = resolveRunOverrides(flags);
  const workers = resolveWorkers(flags);
  const every = resolveCheckpointEvery(flags);
  const configs: RunConfig[] = [];
  for (const n of names) configs.push(...expandRuns(await loadExperiment(n), overrides));
  for (const c of configs) checkDataAvailable(c.data);
  const backend = await resolveBackend(flags);

  const root = outDir(flags.out, join('runs', `${timestamp()}-${name}`));
  ensureDir(root);
  // One writer per folder: a second process on the same --out stops here, naming the holder's pid.
  const lock = lockFolder(root, 'output folder');
  const tasks: RunTask[] = configs.map((config) => ({ config, dir: join(root, runDirName(config)), checkpointEvery: every }));
  // As the study does: say how much of a rerun is already done (finished runs are not trained again).
  const complete = tasks.filter((t) => completedSummary(t.dir, t.config, backend.name)).length;
  console.error(
    `${count(tasks.length, 'run')} → ${root} (backend ${backend.name}, ${count(Math.min(workers, tasks.length), 'worker')})${complete ? `; ${complete} already complete` : ''}`,
  );

  const progress = createProgress();
  progress.start(
    tasks.reduce((a, t) => a + t.config.steps, 0),
    tasks.length,
  );
  const started = performance.now();
  await withGracefulStop(() =>
    runTasks(
      tasks,
      workers,
      progressEvents(() => progress, (s) => `${s.experiment}/${s.optimizer}/s${s.seed}`),
    ).finally(() => progress.stop()),
  ).finally(() => lock.release());
  const runs = loadRuns(findRunDirs([root]));
  console.log(renderRuns(runs, view));
  console.log(`\n${count(runs.length, 'run')} in ${((performance.now() - started) / 1000).toFixed(1)} s → ${root}`);
  const page = join(root, RUNS_HTML);
  reportWarnings(await writeRunPages(runs, { html: page }));
  console.log(`figures: ${resolve(page)}`);
  if (footer !== undefined) console.log(footer);
  if (stopSignal.requested) {
    console.log(`interrupted: unfinished runs have metrics and a checkpoint but no summary.json; to resume them, rerun with --out ${root}`);
    return INTERRUPTED;
  }
  return 0;
}

export const registerRun: RegisterCommand = (program, exit) => {
  addRunFlags(
    program
      .command('run')
      .description('run experiments from experiments/ by name (see `list`) or by path to a spec file (.ts in a "type": "module" package, or .mts)')
      .argument('<experiments...>', 'experiment names or spec file paths'),
  ).action(async (names: string[], flags: RunFlags) => exit(await runExperiments(names, flags, names.join('+').replace(/[^a-z0-9+-]/gi, '_'))));
};
