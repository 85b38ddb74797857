/**
 * `slurm study|tune|run`: write batch scripts under DIR/slurm/ and submit them as dependent job
 * arrays (src/cluster/, docs/cluster.md); `slurm task|tune-task|run-task|finish` are what those
 * scripts run on the cluster (and what a Kubernetes Indexed Job runs, by JOB_COMPLETION_INDEX).
 * Over 400 lines because each submitting command and the task command its scripts call must agree
 * on the flags forwarded between them; kept in one file so they are read side by side.
 */
import { Command, Option } from 'commander';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKENDS, initBackend } from '../backend.js';
import { expandRuns, type ExperimentSpec, type RunConfig } from '../train/config.js';
import { checkDataAvailable } from '../train/build.js';
import { runDirName } from '../train/run.js';
import { ensureDir } from '../train/run_files.js';
import { defaultWorkers, runTasks, stopSignal } from '../study/pool.js';
import { planExperimentTuning, gridsFor } from '../study/tune.js';
import type { StudySpec } from '../study/protocol.js';
import { estimateRunSeconds } from '../study/cost.js';
import { EnvironmentError, firstLine } from '../errors.js';
import { loadVariants } from '../variants/modules.js';
import { assignShares } from '../cluster/balance.js';
import { estimatePhases, finishStudy, PhaseNotReady, runPhaseTask, STUDY_PHASES, type StudyPhase } from '../cluster/phases.js';
import { CPUS_FROM_SLURM, type JobScript, type SlurmResources } from '../cluster/scripts.js';
import { jobOfEnv, logDir, shardIndex, writeAndSubmit, writeStatus, type Submission } from '../cluster/submit.js';
import { UsageError, parseList, parseLr, parsePositiveInt, parseSeeds } from './args.js';
import { loadExperiment, loadExperimentSpec, loadStudy, loadStudyExperiments } from '../catalog/experiments.js';

/** The project folder: the batch scripts `cd` there and run src/cli/main.ts. */
const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** What `slurm` needs from main.ts: the report step of the finish job. */
export interface SlurmHooks {
  report(dir: string): Promise<void>;
}

interface StudyTaskFlags {
  quick?: boolean;
  spec?: string;
  backend?: string;
  require?: string[];
  checkpointEvery?: string;
  out: string;
  tasks: string;
}

interface SubmitFlags extends StudyTaskFlags {
  cpusPerTask?: string;
  time?: string;
  partition?: string;
  account?: string;
  sbatchArg?: string[];
  dryRun?: boolean;
}

/** Flags the study's array tasks share with `study`; forwarded verbatim into the scripts. */
function studyFlags(cmd: Command): Command {
  return cmd
    .option('--quick', 'the quick study')
    .option('--spec <name|path>', 'study spec in experiments/studies/ (default: stability)')
    .addOption(new Option('--backend <name>', 'tfjs backend (use the same on every node)').choices([...BACKENDS]))
    .option('--require <file>', 'load an optimizer variant file first; repeatable', collect, [])
    .option('--checkpoint-every <n>', 'steps between checkpoints of each run (default: about a minute of training)')
    .requiredOption('--out <dir>', 'the study folder, on a filesystem every node shares')
    .requiredOption('--tasks <n>', 'array tasks per phase');
}

function resourceFlags(cmd: Command): Command {
  return cmd
    .option('--cpus-per-task <c>', 'CPUs per array task; each task runs that many worker threads (default 1)')
    .option('--time <HH:MM:SS>', 'time limit per task (a task stopped at it resumes when requeued)')
    .option('--partition <p>', 'Slurm partition')
    .option('--account <a>', 'Slurm account')
    .option('--sbatch-arg <arg>', 'any other sbatch option, e.g. --sbatch-arg=--mem=4G; repeatable', collect, [])
    .option('--dry-run', 'write and print the scripts without submitting');
}

const forwardStudy = (f: StudyTaskFlags): string[] => [
  ...(f.quick ? ['--quick'] : []),
  ...(f.spec !== undefined ? ['--spec', resolveSpec(f.spec)] : []),
  ...(f.backend !== undefined ? ['--backend', f.backend] : []),
  ...(f.require ?? []).flatMap((r) => ['--require', resolve(r)]),
  ...(f.checkpointEvery !== undefined ? ['--checkpoint-every', f.checkpointEvery] : []),
];

/** A spec path becomes absolute (the scripts run in the project folder); a spec name stays. */
const resolveSpec = (spec: string) => (spec.endsWith('.ts') ? resolve(spec) : spec);

/** The sandbox as the scripts run it: one node process (tsx as a loader, not a wrapper), so SIGTERM reaches it. */
const sandbox = (...args: string[]) => [process.execPath, '--import', 'tsx', 'src/cli/main.ts', ...args];

function resources(f: SubmitFlags): SlurmResources {
  if (f.time !== undefined && !/^(\d+-)?\d+(:\d{1,2}){0,2}$/.test(f.time)) throw new UsageError(`--time ${f.time}: expected HH:MM:SS (or D-HH:MM:SS, or minutes)`);
  return {
    cpusPerTask: f.cpusPerTask !== undefined ? parsePositiveInt('--cpus-per-task', f.cpusPerTask) : 1,
    ...(f.time !== undefined ? { time: f.time } : {}),
    ...(f.partition !== undefined ? { partition: f.partition } : {}),
    ...(f.account !== undefined ? { account: f.account } : {}),
    sbatchArgs: f.sbatchArg ?? [],
  };
}

const minutes = (s: number) => (s < 60 ? `${Math.ceil(s)} s` : s < 7200 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`);

/** This invocation as a command to paste: how to resume. */
const resumeCommand = () => `npm run sandbox -- ${process.argv.slice(2).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')}`;

function printSubmission(s: Submission, out: string, dryRun: boolean, after: string): void {
  for (const f of s.failures) console.error(`last time: ${f}`);
  console.log(`scripts: ${s.scripts.map((x) => x.file).join(', ')}`);
  if (s.skipped.length > 0) console.log(`finished before, not submitted again: ${s.skipped.join(', ')}`);
  const ids = Object.values(s.submitted);
  if (dryRun) {
    console.log(`dry run: nothing submitted; submit by rerunning without --dry-run (or sbatch each script, with --dependency=afterok:<previous id>)`);
    return;
  }
  if (ids.length === 0) {
    console.log(`nothing to submit: every job has finished. ${after}`);
    return;
  }
  console.log(`submitted: ${Object.entries(s.submitted).map(([n, id], i) => `${n} ${id}${i > 0 ? ' (afterok)' : ''}`).join(', ')}`);
  console.log(`watch: squeue --jobs=${ids.join(',')}   (sacct --jobs=${ids.join(',')} where accounting is on)`);
  console.log(`logs: ${logDir(out)}/<job>-<array id>_<task>.out (finish: finish-<id>.out)`);
  console.log(`resume or retry after a failure: ${resumeCommand()}`);
  console.log(after);
}

async function loadStudyFlags(f: StudyTaskFlags): Promise<{ study: StudySpec; experiments: Map<string, ExperimentSpec>; tasks: number }> {
  const tasks = parsePositiveInt('--tasks', f.tasks);
  await loadVariants(f.require);
  const study = await loadStudy(f.spec ?? 'stability', f.quick === true);
  const experiments = new Map<string, ExperimentSpec>();
  for (const [name, spec] of await loadStudyExperiments(study)) experiments.set(name, spec);
  for (const e of experiments.values()) checkDataAvailable(e.data);
  return { study, experiments, tasks };
}

async function slurmStudy(f: SubmitFlags): Promise<void> {
  const { study, experiments, tasks } = await loadStudyFlags(f);
  const r = resources(f);
  const out = resolve(f.out);
  ensureDir(out);
  const estimates = estimatePhases(study, experiments, tasks);
  console.log(`study ${study.name} → ${out}, ${tasks} array tasks per phase; estimated compute (FLOP model, 1 CPU; arms an upper bound):`);
  for (const e of estimates) {
    console.log(`  ${e.phase}: ${e.runs} runs, ${minutes(e.workerSeconds)} in all, longest task ${minutes(e.longestTaskSeconds / r.cpusPerTask)} with --tasks ${tasks}`);
  }
  const common = ['--out', out, '--tasks', String(tasks), ...forwardStudy(f)];
  const phaseJob = (phase: StudyPhase, about: string): JobScript => ({
    name: phase,
    array: tasks,
    about: [about],
    command: sandbox('slurm', 'task', phase, ...common, '--workers', CPUS_FROM_SLURM),
  });
  const jobs: JobScript[] = [
    phaseJob('tune', 'Tuning phase: this task\'s cost-balanced share of the tuning runs, into DIR/shards/tune-<task>.'),
    phaseJob('stress', 'Stress phase: reads the tuned LRs from the finished tuning runs; runs this task\'s share of the stress runs.'),
    phaseJob('arms', 'Arms phase: places the arms where the finished stress runs first fail; runs this task\'s share.'),
    {
      name: 'finish',
      about: ['Checks that every run finished, merges the shard folders into DIR and writes REPORT.md there.'],
      command: sandbox('slurm', 'finish', ...common),
    },
  ];
  const s = writeAndSubmit({ out, tasks, jobs, resources: r, workdir: PROJECT_ROOT, command: resumeCommand(), dryRun: f.dryRun === true });
  printSubmission(s, out, f.dryRun === true, `the report: ${join(out, 'REPORT.md')} when the finish job ends`);
}

/** Stop runs after their current step on SIGTERM (Slurm's warning, scancel) as on Ctrl-C; checkpoints are kept. */
function stopOnSignals(): void {
  const stop = (signal: string) => {
    if (!stopSignal.requested) console.error(`${signal}: stopping after the current step; checkpoints and finished runs are kept`);
    stopSignal.requested = true;
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Run `work` as task `name` (index `index`), recording its outcome for the submitting command. */
async function asTask(out: string, name: string, index: number | undefined, work: () => Promise<void>): Promise<void> {
  const where = jobOfEnv(process.env, out, name);
  stopOnSignals();
  try {
    await work();
  } catch (e) {
    writeStatus(out, name, index, { state: 'failed', ...where, line: firstLine((e as Error)?.message ?? String(e)) });
    throw e;
  }
  if (stopSignal.requested) {
    writeStatus(out, name, index, { state: 'stopped', ...where });
    console.error(`stopped; a requeued or resubmitted task resumes from the checkpoints`);
    process.exitCode = 130;
    return;
  }
  writeStatus(out, name, index, { state: 'done', ...where });
}

async function studyTask(phase: string, f: StudyTaskFlags & { index?: string; workers?: string }): Promise<void> {
  if (!(STUDY_PHASES as readonly string[]).includes(phase)) throw new UsageError(`phase ${phase}: expected one of ${STUDY_PHASES.join(', ')}`);
  const { study, experiments, tasks } = await loadStudyFlags(f);
  const index = shardIndex(f.index, process.env, tasks);
  const workers = f.workers !== undefined ? parsePositiveInt('--workers', f.workers) : defaultWorkers();
  const out = resolve(f.out);
  const backend = await initBackend({ ...(f.backend ? { requested: f.backend } : {}), log: (l) => console.error(l) });
  await asTask(out, phase, index, async () => {
    try {
      const started = performance.now();
      const mine = await runPhaseTask(study, experiments, out, {
        phase: phase as StudyPhase,
        index,
        count: tasks,
        workers,
        ...(f.checkpointEvery !== undefined ? { checkpointEvery: parsePositiveInt('--checkpoint-every', f.checkpointEvery) } : {}),
        events: {
          onPhase: (p, runs, skipped) =>
            console.error(`${p} task ${index}/${tasks} (backend ${backend.name}, ${workers} worker${workers > 1 ? 's' : ''}): ${runs} runs to do${skipped ? `, ${skipped} already complete` : ''}`),
          onDone: (s) => console.error(`${s.interrupted ? 'stopped' : 'done'}: ${s.experiment}/${s.optimizer}/s${s.seed} (${s.wallSeconds.toFixed(1)} s)`),
        },
      });
      console.error(`${phase} task ${index}: its share of ${mine.length} runs ended after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } catch (e) {
      if (e instanceof PhaseNotReady) throw new EnvironmentError(`${e.message}; see the logs in ${logDir(out)}`);
      throw e;
    }
  });
}

async function studyFinish(f: StudyTaskFlags, hooks: SlurmHooks): Promise<void> {
  const { study, experiments } = await loadStudyFlags(f);
  const out = resolve(f.out);
  await initBackend({ ...(f.backend ? { requested: f.backend } : {}), log: (l) => console.error(l) });
  await asTask(out, 'finish', undefined, async () => {
    let r;
    try {
      r = finishStudy(study, experiments, out);
    } catch (e) {
      if (e instanceof PhaseNotReady) throw new EnvironmentError(`${e.message}; see the logs in ${logDir(out)}`);
      // A refused merge (shards from different code or backends) is one line in the log and the status file.
      if (e instanceof Error && !(e instanceof EnvironmentError)) throw new EnvironmentError(`${firstLine(e.message)} (the shards are kept in ${join(out, 'shards')})`);
      throw e;
    }
    console.error(`merged → ${out}: ${r.runs} runs (${r.copied} copied, ${r.duplicates} duplicates), ${minutes(r.workerSeconds)} of worker time`);
    await hooks.report(out);
  });
}

interface TuneSubmitFlags extends Omit<SubmitFlags, 'quick' | 'spec' | 'checkpointEvery'> {
  seeds?: string;
}

/** The study's grids and seeds for `tune`, as `npm run tune` takes them. */
async function tunePlan(name: string, f: { seeds?: string; require?: string[] }, runsDir: string) {
  await loadVariants(f.require);
  const study = await loadStudy('stability', false);
  const seeds = f.seeds !== undefined ? parseSeeds(f.seeds) : study.seeds;
  const spec = await loadExperimentSpec(name);
  checkDataAvailable(spec.data);
  return planExperimentTuning(spec, gridsFor(spec, study.tune.grid), seeds, runsDir);
}

async function slurmTune(name: string, f: TuneSubmitFlags): Promise<void> {
  const tasks = parsePositiveInt('--tasks', f.tasks);
  const out = resolve(f.out);
  const planned = await tunePlan(name, f, out);
  const r = resources(f);
  ensureDir(out);
  const costs = planned.map((p) => estimateRunSeconds(p.config));
  console.log(`tune ${name} → ${out}: ${planned.length} runs, ${minutes(costs.reduce((a, c) => a + c, 0))} of compute (FLOP model), ${tasks} array tasks`);
  const common = [name, '--out', out, '--tasks', String(tasks), ...(f.seeds !== undefined ? ['--seeds', f.seeds] : []), ...(f.backend ? ['--backend', f.backend] : []), ...(f.require ?? []).flatMap((x) => ['--require', resolve(x)])];
  const jobs: JobScript[] = [
    { name: 'tune', array: tasks, about: ["This task's cost-balanced share of the tuning runs, into DIR/<run>."], command: sandbox('slurm', 'tune-task', ...common, '--workers', CPUS_FROM_SLURM) },
    {
      name: 'finish',
      about: ['`npm run tune` on the finished runs: skips them all and writes the record (experiments/tuned/<experiment>.json).'],
      command: sandbox('tune', name, '--out', out, '--workers', '1', ...(f.seeds !== undefined ? ['--seeds', f.seeds] : []), ...(f.backend ? ['--backend', f.backend] : []), ...(f.require ?? []).flatMap((x) => ['--require', resolve(x)])),
    },
  ];
  const s = writeAndSubmit({ out, tasks, jobs, resources: r, workdir: PROJECT_ROOT, command: resumeCommand(), dryRun: f.dryRun === true });
  printSubmission(s, out, f.dryRun === true, `the record: experiments/tuned/${name}.json when the finish job ends`);
}

async function tuneTask(name: string, f: TuneSubmitFlags & { index?: string; workers?: string }): Promise<void> {
  const tasks = parsePositiveInt('--tasks', f.tasks);
  const index = shardIndex(f.index, process.env, tasks);
  const out = resolve(f.out);
  const planned = await tunePlan(name, f, out);
  const workers = f.workers !== undefined ? parsePositiveInt('--workers', f.workers) : defaultWorkers();
  await initBackend({ ...(f.backend ? { requested: f.backend } : {}), log: (l) => console.error(l) });
  const owner = assignShares(planned.map((p) => estimateRunSeconds(p.config)), tasks);
  const mine = planned.filter((_, i) => owner[i] === index);
  await asTask(out, 'tune', index, async () => {
    console.error(`tune task ${index}/${tasks}: ${mine.length} runs`);
    await runTasks(mine.map((p) => ({ config: p.config, dir: p.dir })), workers, {}, { inWorkers: true });
  });
}

interface RunSubmitFlags extends Omit<SubmitFlags, 'spec'> {
  steps?: string;
  seeds?: string;
  optimizers?: string;
  lr?: string;
  precision?: string;
}

const runForward = (f: RunSubmitFlags): string[] => [
  ...(f.quick ? ['--quick'] : []),
  ...(f.steps !== undefined ? ['--steps', f.steps] : []),
  ...(f.seeds !== undefined ? ['--seeds', f.seeds] : []),
  ...(f.optimizers !== undefined ? ['--optimizers', f.optimizers] : []),
  ...(f.lr !== undefined ? ['--lr', f.lr] : []),
  ...(f.precision !== undefined ? ['--precision', f.precision] : []),
  ...(f.backend !== undefined ? ['--backend', f.backend] : []),
  ...(f.checkpointEvery !== undefined ? ['--checkpoint-every', f.checkpointEvery] : []),
  ...(f.require ?? []).flatMap((r) => ['--require', resolve(r)]),
];

/** The runs of `slurm run`, in `run`'s order (experiment × optimizer × seed). */
async function runPlan(names: readonly string[], f: RunSubmitFlags): Promise<RunConfig[]> {
  await loadVariants(f.require);
  const overrides = {
    quick: f.quick === true,
    ...(f.steps !== undefined ? { steps: parsePositiveInt('--steps', f.steps) } : {}),
    ...(f.seeds !== undefined ? { seeds: parseSeeds(f.seeds) } : {}),
    ...(f.optimizers !== undefined ? { optimizers: parseList('--optimizers', f.optimizers) } : {}),
    ...(f.lr !== undefined ? { lr: parseLr(f.lr) } : {}),
    ...(f.precision !== undefined ? { precision: f.precision } : {}),
  };
  const configs: RunConfig[] = [];
  for (const name of names) configs.push(...expandRuns(await loadExperiment(resolveSpec(name)), overrides));
  for (const c of configs) checkDataAvailable(c.data);
  return configs;
}

async function slurmRun(names: string[], f: RunSubmitFlags): Promise<void> {
  const configs = await runPlan(names, f);
  const out = resolve(f.out);
  ensureDir(out);
  const r = resources(f);
  console.log(`${configs.length} runs → ${out}: one array task each; longest ${minutes(Math.max(...configs.map(estimateRunSeconds)))} (FLOP model)`);
  const jobs: JobScript[] = [
    {
      name: 'runs',
      array: configs.length,
      about: ['One run of experiment × optimizer × seed per task, into DIR/<run>; view them with npm run view -- DIR.'],
      command: sandbox('slurm', 'run-task', ...names.map(resolveSpec), '--out', out, ...runForward(f)),
    },
  ];
  const s = writeAndSubmit({ out, tasks: configs.length, jobs, resources: r, workdir: PROJECT_ROOT, command: resumeCommand(), dryRun: f.dryRun === true });
  printSubmission(s, out, f.dryRun === true, `view the runs: npm run view -- ${out}`);
}

async function runTask(names: string[], f: RunSubmitFlags & { index?: string }): Promise<void> {
  const configs = await runPlan(names, f);
  const index = shardIndex(f.index, process.env, configs.length);
  const out = resolve(f.out);
  await initBackend({ ...(f.backend ? { requested: f.backend } : {}), log: (l) => console.error(l) });
  const config = configs[index]!;
  const every = f.checkpointEvery !== undefined ? parsePositiveInt('--checkpoint-every', f.checkpointEvery) : 'auto';
  await asTask(out, 'runs', index, async () => {
    console.error(`run ${index + 1}/${configs.length}: ${runDirName(config)}`);
    await runTasks([{ config, dir: join(out, runDirName(config)), checkpointEvery: every }], 1, {}, { inWorkers: true });
  });
}

/** Register `slurm` and its subcommands on the sandbox's program. */
export function registerSlurmCommand(program: Command, hooks: SlurmHooks): void {
  const slurm = program
    .command('slurm')
    .description('run a study, a tuning or runs on a Slurm cluster as dependent job arrays (docs/cluster.md)');
  resourceFlags(studyFlags(slurm.command('study')))
    .description('the study as arrays: tuning → stress → arms (each after the one before succeeded) → merge and report; prints job ids, how to watch, how to resume')
    .action((f: SubmitFlags) => slurmStudy(f));
  resourceFlags(
    slurm
      .command('tune')
      .argument('<experiment>', 'experiment name in experiments/')
      .option('--seeds <list>', "a count N or a comma list (default: the study's seeds)")
      .addOption(new Option('--backend <name>', 'tfjs backend').choices([...BACKENDS]))
      .option('--require <file>', 'load an optimizer variant file first; repeatable', collect, [])
      .requiredOption('--out <dir>', 'folder for the tuning runs, on a shared filesystem')
      .requiredOption('--tasks <n>', 'array tasks'),
  )
    .description("`npm run tune` as an array of tuning runs, then one job that writes the record")
    .action((name: string, f: TuneSubmitFlags) => slurmTune(name, f));
  resourceFlags(
    slurm
      .command('run')
      .argument('<experiments...>', 'experiment names or .ts spec paths')
      .option('--quick', 'the smoke version of each experiment')
      .option('--steps <n>', 'training steps per run')
      .option('--seeds <list>', 'a count N or a comma list')
      .option('--optimizers <list>', 'optimizer labels or registry names')
      .option('--lr <lr>', 'learning rate for every optimizer, or per label')
      .option('--precision <preset>', 'simulated low-precision preset')
      .addOption(new Option('--backend <name>', 'tfjs backend').choices([...BACKENDS]))
      .option('--require <file>', 'load an optimizer variant file first; repeatable', collect, [])
      .option('--checkpoint-every <n>', 'steps between checkpoints')
      .requiredOption('--out <dir>', 'output folder, on a shared filesystem'),
  )
    .description('`run` as an array: one task per run of experiment × optimizer × seed')
    .action((names: string[], f: RunSubmitFlags) => slurmRun(names, { ...f, tasks: '1' }));

  // What the scripts run; also usable by hand or from another scheduler (--index, JOB_COMPLETION_INDEX).
  studyFlags(slurm.command('task'))
    .argument('<phase>', `one of ${STUDY_PHASES.join(', ')}`)
    .option('--index <i>', 'this task\'s 0-based index (default: SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX)')
    .option('--workers <n>', 'worker threads')
    .description('one array task of one study phase (what the batch scripts run)')
    .action((phase: string, f: StudyTaskFlags & { index?: string; workers?: string }) => studyTask(phase, f));
  studyFlags(slurm.command('finish'))
    .description('check every run finished, merge the shard folders into --out and write the report (the last job)')
    .action((f: StudyTaskFlags) => studyFinish(f, hooks));
  slurm
    .command('tune-task')
    .argument('<experiment>')
    .option('--seeds <list>')
    .addOption(new Option('--backend <name>').choices([...BACKENDS]))
    .option('--require <file>', 'repeatable', collect, [])
    .requiredOption('--out <dir>')
    .requiredOption('--tasks <n>')
    .option('--index <i>')
    .option('--workers <n>')
    .description('one array task of `slurm tune`')
    .action((name: string, f: TuneSubmitFlags & { index?: string; workers?: string }) => tuneTask(name, f));
  slurm
    .command('run-task')
    .argument('<experiments...>')
    .option('--quick')
    .option('--steps <n>')
    .option('--seeds <list>')
    .option('--optimizers <list>')
    .option('--lr <lr>')
    .option('--precision <preset>')
    .addOption(new Option('--backend <name>').choices([...BACKENDS]))
    .option('--require <file>', 'repeatable', collect, [])
    .option('--checkpoint-every <n>')
    .requiredOption('--out <dir>')
    .option('--index <i>')
    .description('one array task of `slurm run`')
    .action((names: string[], f: RunSubmitFlags & { index?: string }) => runTask(names, { ...f, tasks: '1' }));
}
