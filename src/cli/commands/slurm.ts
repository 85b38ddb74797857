/**
 * `slurm study|tune|run` (`npm run sandbox -- slurm …`): write batch scripts under DIR/slurm/ and
 * submit them as dependent job arrays (docs/cluster.md); `slurm task|finish|tune-task|run-task` are
 * what those scripts run on the cluster (and what a Kubernetes Indexed Job runs, by
 * JOB_COMPLETION_INDEX). This file declares and parses the flags, forwards them into the scripts
 * and prints; what each job and task does lives in src/cluster/commands.ts.
 */
import { Option, type Command } from 'commander';
import { join, resolve } from 'node:path';
import { DEFAULT_STUDY, TUNING_STUDY, loadExperiment, loadExperimentSpec, loadStudy, loadStudyExperiments } from '../../catalog/experiments.js';
import { finishTask, parsePhase, runJobs, runTask, studyJobs, studyTask, tuneJobs, tuneTask, type TaskOutcome } from '../../cluster/commands.js';
import { estimatePhases, STUDY_PHASES } from '../../cluster/phases.js';
import type { SlurmResources } from '../../cluster/scripts.js';
import { logDir, shardIndex, writeAndSubmit, type SubmitOptions, type Submission } from '../../cluster/submit.js';
import { UsageError } from '../../errors.js';
import { estimateRunSeconds } from '../../study/cost.js';
import type { StudySpec } from '../../study/protocol.js';
import { count } from '../../text/plural.js';
import { planExperimentTuning, gridsFor } from '../../study/tune.js';
import { checkDataAvailable } from '../../train/build.js';
import { expandRuns, type ExperimentSpec, type RunConfig } from '../../train/config.js';
import { ensureDir } from '../../train/run_files.js';
import { loadVariants, PROJECT_ROOT } from '../../variants/modules.js';
import { parsePositiveInt, parseSeeds } from '../args.js';
import { collect, flag, resolveBackend, resolveCheckpointEvery, resolveRunOverrides, resolveWorkers, withOptions, type BackendFlags, type RunOverrideFlags, type WorkersFlags } from '../flags.js';
import { INTERRUPTED, type ExitStatus, type RegisterCommand } from '../session.js';
import { reportCommand } from './report.js';
import { formatDuration } from '../../text/duration.js';

const log = (line: string) => console.error(line);
const statusOf = (outcome: TaskOutcome): ExitStatus => (outcome === 'stopped' ? INTERRUPTED : 0);

interface CommonFlags extends BackendFlags {
  require?: string[];
  out: string;
}
interface StudyTaskFlags extends CommonFlags {
  quick?: boolean;
  spec?: string;
  checkpointEvery?: string;
  tasks: string;
}
interface ResourceFlags {
  cpusPerTask?: string;
  time?: string;
  partition?: string;
  account?: string;
  sbatchArg?: string[];
  dryRun?: boolean;
}
interface TuneFlags extends CommonFlags {
  seeds?: string;
  tasks: string;
}
interface RunFlags extends CommonFlags, RunOverrideFlags {
  checkpointEvery?: string;
}
interface TaskFlags extends WorkersFlags {
  index?: string;
}
interface StudyTaskRoundFlags extends StudyTaskFlags, TaskFlags {
  round?: string;
}

const tasksFlag = (help: string) => new Option('--tasks <n>', help).makeOptionMandatory();
const indexFlag = () => new Option('--index <i>', "this task's 0-based index (default: SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX)");

/** Flags the study's array tasks share with `study`; forwarded verbatim into the scripts. */
const studyFlags = (cmd: Command): Command =>
  withOptions(
    cmd,
    flag.quick('the quick study'),
    flag.spec(),
    flag.backend('tfjs backend (use the same on every node)'),
    flag.require(),
    flag.checkpointEvery(),
    flag.out('the study folder, on a filesystem every node shares').makeOptionMandatory(),
    tasksFlag('array tasks per phase'),
  );

/** The resources of each array task, and --dry-run: flags only the submitting commands take. */
const resourceFlags = (cmd: Command): Command =>
  withOptions(
    cmd,
    new Option('--cpus-per-task <c>', 'CPUs per array task; each task runs that many worker threads (default 1)'),
    new Option('--time <HH:MM:SS>', 'time limit per task (a task stopped at it resumes when requeued)'),
    new Option('--partition <p>', 'Slurm partition'),
    new Option('--account <a>', 'Slurm account'),
    new Option('--sbatch-arg <arg>', 'any other sbatch option, e.g. --sbatch-arg=--mem=4G; repeatable').argParser(collect).default([]),
    new Option('--dry-run', 'write and print the scripts without submitting'),
  );

/** The flags of `slurm tune` and its tasks. */
const tuneFlags = (cmd: Command): Command =>
  withOptions(
    cmd.argument('<experiment>', 'experiment name in experiments/'),
    flag.seeds("a count N or a comma list (default: the study's seeds)"),
    flag.backend(),
    flag.require(),
    flag.out('folder for the tuning runs, on a shared filesystem').makeOptionMandatory(),
    tasksFlag('array tasks'),
  );

/** The flags of `slurm run` and its tasks. */
const runFlags = (cmd: Command): Command =>
  withOptions(
    cmd.argument('<experiments...>', 'experiment names or .ts spec paths'),
    flag.quick('the smoke version of each experiment'),
    flag.steps('training steps per run'),
    flag.seeds(),
    flag.optimizers(),
    flag.lr(),
    flag.precision(),
    flag.backend(),
    flag.require(),
    flag.checkpointEvery(),
    flag.out('output folder, on a shared filesystem').makeOptionMandatory(),
  );

/** A spec path becomes absolute (the scripts run in the project folder); a spec name stays. */
/** `--round k`: a non-negative integer (runPhaseTask checks it against the study's ladder). */
function parseRound(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`--round ${JSON.stringify(value)}: expected a non-negative integer`);
  return Number(value);
}

const resolveSpec = (spec: string) => (spec.endsWith('.ts') ? resolve(spec) : spec);

const forwardCommon = (f: CommonFlags): string[] => [...(f.backend !== undefined ? ['--backend', f.backend] : []), ...(f.require ?? []).flatMap((r) => ['--require', resolve(r)])];

const forwardStudy = (f: StudyTaskFlags): string[] => [
  ...(f.quick ? ['--quick'] : []),
  ...(f.spec !== undefined ? ['--spec', resolveSpec(f.spec)] : []),
  ...forwardCommon(f),
  ...(f.checkpointEvery !== undefined ? ['--checkpoint-every', f.checkpointEvery] : []),
];

const forwardRun = (f: RunFlags): string[] => [
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

function resolveResources(f: ResourceFlags): SlurmResources {
  if (f.time !== undefined && !/^(\d+-)?\d+(:\d{1,2}){0,2}$/.test(f.time)) throw new UsageError(`--time ${f.time}: expected HH:MM:SS (or D-HH:MM:SS, or minutes)`);
  return {
    cpusPerTask: f.cpusPerTask !== undefined ? parsePositiveInt('--cpus-per-task', f.cpusPerTask) : 1,
    ...(f.time !== undefined ? { time: f.time } : {}),
    ...(f.partition !== undefined ? { partition: f.partition } : {}),
    ...(f.account !== undefined ? { account: f.account } : {}),
    sbatchArgs: f.sbatchArg ?? [],
  };
}

/** Write the jobs' scripts and submit them (unless a dry run); the scripts `cd` to the project folder. */
const submitJobs = (o: Omit<SubmitOptions, 'workdir'>): Submission => writeAndSubmit({ ...o, workdir: PROJECT_ROOT });

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

async function resolveStudy(f: StudyTaskFlags): Promise<{ study: StudySpec; experiments: Map<string, ExperimentSpec>; tasks: number }> {
  const tasks = parsePositiveInt('--tasks', f.tasks);
  await loadVariants(f.require);
  const study = await loadStudy(f.spec ?? DEFAULT_STUDY, f.quick === true);
  const experiments = await loadStudyExperiments(study);
  for (const e of experiments.values()) checkDataAvailable(e.data);
  return { study, experiments, tasks };
}

/** The study's grids and seeds for `tune`, as `npm run tune` takes them. */
async function resolveTunePlan(name: string, f: TuneFlags, runsDir: string) {
  await loadVariants(f.require);
  const study = await loadStudy(TUNING_STUDY, false);
  const seeds = f.seeds !== undefined ? parseSeeds(f.seeds) : study.seeds;
  const spec = await loadExperimentSpec(name);
  checkDataAvailable(spec.data);
  return planExperimentTuning(spec, gridsFor(spec, study.tune.grid), seeds, runsDir);
}

/** The runs of `slurm run`, in `run`'s order (experiment × optimizer × seed). */
async function resolveRuns(names: readonly string[], f: RunFlags): Promise<RunConfig[]> {
  await loadVariants(f.require);
  const overrides = resolveRunOverrides(f);
  const configs: RunConfig[] = [];
  for (const name of names) configs.push(...expandRuns(await loadExperiment(resolveSpec(name)), overrides));
  for (const c of configs) checkDataAvailable(c.data);
  return configs;
}

async function slurmStudy(f: StudyTaskFlags & ResourceFlags): Promise<ExitStatus> {
  const { study, experiments, tasks } = await resolveStudy(f);
  const r = resolveResources(f);
  const out = resolve(f.out);
  ensureDir(out);
  console.log(`study ${study.name} → ${out}, ${tasks} array tasks per phase; estimated compute (FLOP model, 1 CPU; arms an upper bound):`);
  for (const e of estimatePhases(study, experiments, tasks)) {
    console.log(`  ${e.phase}: ${e.runs} runs, ${formatDuration(e.workerSeconds)} in all, longest task ${formatDuration(e.longestTaskSeconds / r.cpusPerTask)} with --tasks ${tasks}`);
  }
  const jobs = studyJobs(study, tasks, ['--out', out, '--tasks', String(tasks), ...forwardStudy(f)]);
  const s = submitJobs({ out, tasks, jobs, resources: r, command: resumeCommand(), dryRun: f.dryRun === true });
  printSubmission(s, out, f.dryRun === true, `the report: ${join(out, 'REPORT.md')} when the finish job ends`);
  return 0;
}

async function slurmTune(name: string, f: TuneFlags & ResourceFlags): Promise<ExitStatus> {
  const tasks = parsePositiveInt('--tasks', f.tasks);
  const out = resolve(f.out);
  const planned = await resolveTunePlan(name, f, out);
  const r = resolveResources(f);
  ensureDir(out);
  const costs = planned.map((p) => estimateRunSeconds(p.config));
  console.log(`tune ${name} → ${out}: ${planned.length} runs, ${formatDuration(costs.reduce((a, c) => a + c, 0))} of compute (FLOP model), ${tasks} array tasks`);
  const seeds = f.seeds !== undefined ? ['--seeds', f.seeds] : [];
  const jobs = tuneJobs(tasks, [name, '--out', out, '--tasks', String(tasks), ...seeds, ...forwardCommon(f)], [name, '--out', out, '--workers', '1', ...seeds, ...forwardCommon(f)]);
  const s = submitJobs({ out, tasks, jobs, resources: r, command: resumeCommand(), dryRun: f.dryRun === true });
  printSubmission(s, out, f.dryRun === true, `the record: experiments/tuned/${name}.json when the finish job ends`);
  return 0;
}

async function slurmRun(names: string[], f: RunFlags & ResourceFlags): Promise<ExitStatus> {
  const configs = await resolveRuns(names, f);
  const out = resolve(f.out);
  ensureDir(out);
  const r = resolveResources(f);
  console.log(`${configs.length} runs → ${out}: one array task each; longest ${formatDuration(Math.max(...configs.map(estimateRunSeconds)))} (FLOP model)`);
  const jobs = runJobs(configs.length, [...names.map(resolveSpec), '--out', out, ...forwardRun(f)]);
  const s = submitJobs({ out, tasks: configs.length, jobs, resources: r, command: resumeCommand(), dryRun: f.dryRun === true });
  printSubmission(s, out, f.dryRun === true, `view the runs: npm run view -- ${out}`);
  return 0;
}

async function slurmTask(phaseName: string, f: StudyTaskRoundFlags): Promise<ExitStatus> {
  const phase = parsePhase(phaseName);
  const round = f.round !== undefined ? parseRound(f.round) : 0;
  const { study, experiments, tasks } = await resolveStudy(f);
  const index = shardIndex(f.index, process.env, tasks);
  const workers = resolveWorkers(f);
  const checkpointEvery = resolveCheckpointEvery(f);
  const backend = await resolveBackend(f);
  return statusOf(await studyTask({ study, experiments, out: resolve(f.out), phase, round, index, tasks, workers, checkpointEvery, backend: backend.name }, log));
}

async function slurmFinish(f: StudyTaskFlags): Promise<ExitStatus> {
  const { study, experiments } = await resolveStudy(f);
  await resolveBackend(f);
  const report = async (dir: string) => {
    await reportCommand(dir);
  };
  return statusOf(await finishTask(study, experiments, resolve(f.out), report, log));
}

async function slurmTuneTask(name: string, f: TuneFlags & TaskFlags): Promise<ExitStatus> {
  const tasks = parsePositiveInt('--tasks', f.tasks);
  const index = shardIndex(f.index, process.env, tasks);
  const out = resolve(f.out);
  const planned = await resolveTunePlan(name, f, out);
  const workers = resolveWorkers(f);
  await resolveBackend(f);
  return statusOf(await tuneTask(planned, out, index, tasks, workers, log));
}

async function slurmRunTask(names: string[], f: RunFlags & TaskFlags): Promise<ExitStatus> {
  const configs = await resolveRuns(names, f);
  // One array task per run: the count is the number of runs, not a --tasks flag.
  const index = shardIndex(f.index, process.env, configs.length, `${count(configs.length, 'run')}, one array task each`);
  const checkpointEvery = resolveCheckpointEvery(f);
  await resolveBackend(f);
  return statusOf(await runTask(configs, resolve(f.out), index, checkpointEvery, log));
}

export const registerSlurm: RegisterCommand = (program, exit) => {
  const slurm = program.command('slurm').description('run a study, a tuning or runs on a Slurm cluster as dependent job arrays (docs/cluster.md)');
  resourceFlags(studyFlags(slurm.command('study')))
    .description('the study as arrays: tuning → stress → arms (each after the one before succeeded) → merge and report; prints job ids, how to watch, how to resume')
    .action(async (f: StudyTaskFlags & ResourceFlags) => exit(await slurmStudy(f)));
  resourceFlags(tuneFlags(slurm.command('tune')))
    .description('`npm run tune` as an array of tuning runs, then one job that writes the record')
    .action(async (name: string, f: TuneFlags & ResourceFlags) => exit(await slurmTune(name, f)));
  resourceFlags(runFlags(slurm.command('run')))
    .description('`run` as an array: one task per run of experiment × optimizer × seed')
    .action(async (names: string[], f: RunFlags & ResourceFlags) => exit(await slurmRun(names, f)));

  // What the scripts run; also usable by hand or from another scheduler (--index, JOB_COMPLETION_INDEX).
  withOptions(
    studyFlags(slurm.command('task')).argument('<phase>', `one of ${STUDY_PHASES.join(', ')}`),
    indexFlag(),
    new Option('--round <k>', "the stress phase's ladder round, 0-based (default 0); round k plans from the rounds before it"),
    flag.workers(),
  )
    .description('one array task of one study phase (what the batch scripts run)')
    .action(async (phase: string, f: StudyTaskRoundFlags) => exit(await slurmTask(phase, f)));
  studyFlags(slurm.command('finish'))
    .description('check every run finished, merge the shard folders into --out and write the report (the last job)')
    .action(async (f: StudyTaskFlags) => exit(await slurmFinish(f)));
  withOptions(tuneFlags(slurm.command('tune-task')), indexFlag(), flag.workers())
    .description('one array task of `slurm tune`')
    .action(async (name: string, f: TuneFlags & TaskFlags) => exit(await slurmTuneTask(name, f)));
  withOptions(runFlags(slurm.command('run-task')), indexFlag())
    .description('one array task of `slurm run`')
    .action(async (names: string[], f: RunFlags & TaskFlags) => exit(await slurmRunTask(names, f)));
};
