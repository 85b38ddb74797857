/** `tune` (`npm run tune`): tune each optimizer's LR for one experiment and record it in experiments/tuned/. */
import { Option } from 'commander';
import { join } from 'node:path';
import { EXPERIMENTS_DIR, TUNING_STUDY, loadExperimentSpec, loadStudy } from '../../catalog/experiments.js';
import { gridsFor, renderTuning, tuneExperiment } from '../../study/tune.js';
import { recordPath } from '../../study/tuned_record.js';
import { count } from '../../text/plural.js';
import { formatNumber } from '../../text/table.js';
import { checkDataAvailable } from '../../train/build.js';
import { loadVariants } from '../../variants/modules.js';
import { outDir, parseSeeds } from '../args.js';
import { flag, resolveBackend, resolveWorkers, withOptions, type BackendFlags, type WorkersFlags } from '../flags.js';
import { createProgress } from '../progress.js';
import { INTERRUPTED, progressEvents, withGracefulStop, type ExitStatus, type RegisterCommand } from '../session.js';

interface TuneFlags extends BackendFlags, WorkersFlags {
  seeds?: string;
  out?: string;
  record?: string;
  require?: string[];
}


async function tuneCommand(name: string, flags: TuneFlags): Promise<ExitStatus> {
  const workers = resolveWorkers(flags);
  // The experiment may name variants from optimizers/ or a --require file.
  await loadVariants(flags.require);
  const study = await loadStudy(TUNING_STUDY, false);
  const seeds = flags.seeds !== undefined ? parseSeeds(flags.seeds) : study.seeds;
  // The spec as written: its LRs anchor the grid; a record's LRs never feed back into a tuning.
  const spec = await loadExperimentSpec(name);
  const grids = gridsFor(spec, study.tune.grid);
  checkDataAvailable(spec.data);
  const backend = await resolveBackend(flags);
  const runsDir = outDir(flags.out, join('runs', `tune-${spec.name}`));
  const recordFile = flags.record !== undefined ? outDir(flags.record, '') : recordPath(EXPERIMENTS_DIR, spec.name);
  const runs = Object.values(grids).reduce((a, g) => a + g.length, 0) * seeds.length;
  console.error(
    `tune ${spec.name}: ${Object.entries(grids).map(([l, g]) => `${l} ${g.length} LRs`).join(', ')} × ${count(seeds.length, 'seed')} = ${count(runs, 'run')} of ${spec.steps} steps → ${runsDir} (backend ${backend.name}, ${count(workers, 'worker')}); rerun the same command to resume`,
  );
  let progress = createProgress();
  const record = await withGracefulStop(() =>
    tuneExperiment(spec, {
      grids,
      seeds,
      runsDir,
      recordFile,
      workers,
      command: `npm run tune -- ${name}${flags.seeds !== undefined ? ` --seeds ${flags.seeds}` : ''}`,
      events: {
        onPhase: (_phase, todo, skipped, steps) => {
          if (skipped) console.error(`${count(todo, 'run')} to do, ${skipped} already complete`);
          progress = createProgress();
          progress.start(steps, todo);
        },
        ...progressEvents(() => progress, (s) => `${s.optimizer}×${formatNumber(s.lrScale)}/s${s.seed}`),
      },
    }).finally(() => progress.stop()),
  );
  if (!record) {
    console.log('interrupted; rerun the same command to resume (finished runs are skipped)');
    return INTERRUPTED;
  }
  console.log(renderTuning(record));
  console.log(`\nwritten: ${recordFile} (${record.wallSeconds} s)`);
  return 0;
}

export const registerTune: RegisterCommand = (program, exit) => {
  withOptions(
    program
      .command('tune')
      .description(
        "tune each optimizer's LR for one experiment (the study's grids, seeds and rule; the experiment's own steps and schedule) and record it in experiments/tuned/<experiment>.json, where the experiment takes its default LRs from",
      )
      .argument('<experiment>', 'experiment name in experiments/, or a spec file path'),
    flag.require(),
    flag.seeds("a count N (seeds 0..N-1) or a comma list (default: the study's 5 seeds, 0..4)"),
    flag.workers(),
    flag.out('folder for the tuning runs (default: runs/tune-<experiment>); rerunning resumes it'),
    new Option('--record <file>', 'write the record here instead of experiments/tuned/<experiment>.json'),
    flag.backend(),
  ).action(async (name: string, flags: TuneFlags) => exit(await tuneCommand(name, flags)));
};
