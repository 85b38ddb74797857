/**
 * What each `slurm` subcommand does, from typed values (the CLI declares and parses the flags):
 * the jobs a submission writes, and the work of one array task or of the finish job, each
 * recording its outcome (done, stopped, failed) for the submitting command to read (submit.ts).
 * Lines for the task's log go to `log` (stderr on the cluster).
 */
import { join } from 'node:path';
import { EnvironmentError, firstLine, UsageError } from '../errors.js';
import { estimateRunSeconds } from '../study/cost.js';
import { runTasks, stopSignal } from '../study/pool.js';
import type { StudySpec } from '../study/protocol.js';
import type { TunePlanRun } from '../study/tune.js';
import type { ExperimentSpec, RunConfig } from '../train/config.js';
import { runDirName } from '../train/run.js';
import { assignShares } from './balance.js';
import { finishStudy, PhaseNotReady, phaseJobName, phaseRounds, runPhaseTask, STUDY_PHASES, type StudyPhase } from './phases.js';
import { CPUS_FROM_SLURM, type JobScript } from './scripts.js';
import { jobOfEnv, logDir, writeStatus } from './submit.js';
import { formatDuration } from '../text/duration.js';

/** How a task ended without an error: 'stopped' by SIGTERM or Ctrl-C (a requeued or rerun task resumes). */
export type TaskOutcome = 'done' | 'stopped';

export type Log = (line: string) => void;

/** Wall time in the unit that reads best. */

/** The sandbox as the scripts run it: one node process (tsx as a loader, not a wrapper), so SIGTERM reaches it. */
const sandbox = (...args: string[]) => [process.execPath, '--import', 'tsx', 'src/cli/main.ts', ...args];

export function parsePhase(phase: string): StudyPhase {
  if (!(STUDY_PHASES as readonly string[]).includes(phase)) throw new UsageError(`phase ${phase}: expected one of ${STUDY_PHASES.join(', ')}`);
  return phase as StudyPhase;
}

const PHASE_ABOUT: Record<StudyPhase, string> = {
  tune: "Tuning phase: this task's cost-balanced share of the tuning runs, into DIR/shards/tune-<task>.",
  stress: "Stress phase: reads the tuned LRs from the finished tuning runs; runs this task's share of the stress runs.",
  arms: 'Arms phase: places the arms where the finished stress runs first fail; runs this task\'s share.',
};

/** What a later stress round of the ladder does (src/cluster/phases.ts explains the rounds). */
const roundAbout = (round: number) =>
  `Stress round ${round} of the ladder: the next rung of every task still climbing, planned from the rounds before; ends at once when the ladder has stopped.`;

/**
 * The study's jobs: an array per phase (the stress phase one per ladder round, each after the one
 * before, since a round's plan reads the results of the earlier ones), then the finish job.
 * `common`: the arguments every job's command takes (--out, --tasks and the study flags, forwarded verbatim).
 */
export function studyJobs(study: StudySpec, tasks: number, common: readonly string[]): JobScript[] {
  const phaseJob = ({ phase, round }: { phase: StudyPhase; round: number }): JobScript => ({
    name: phaseJobName(phase, round),
    array: tasks,
    about: [round > 0 ? roundAbout(round) : PHASE_ABOUT[phase]],
    command: sandbox('slurm', 'task', phase, ...common, ...(round > 0 ? ['--round', String(round)] : []), '--workers', CPUS_FROM_SLURM),
  });
  return [
    ...phaseRounds(study).map(phaseJob),
    {
      name: 'finish',
      about: ['Checks that every run finished, merges the shard folders into DIR and writes REPORT.md there.'],
      command: sandbox('slurm', 'finish', ...common),
    },
  ];
}

/** `slurm tune`'s jobs: the tuning runs as an array (`taskArgs`), then `tune` itself (`tuneArgs`) on the finished runs. */
export function tuneJobs(tasks: number, taskArgs: readonly string[], tuneArgs: readonly string[]): JobScript[] {
  return [
    { name: 'tune', array: tasks, about: ["This task's cost-balanced share of the tuning runs, into DIR/<run>."], command: sandbox('slurm', 'tune-task', ...taskArgs, '--workers', CPUS_FROM_SLURM) },
    {
      name: 'finish',
      about: ['`npm run tune` on the finished runs: skips them all and writes the record (experiments/tuned/<experiment>.json).'],
      command: sandbox('tune', ...tuneArgs),
    },
  ];
}

/** `slurm run`'s job: one array task per run. */
export function runJobs(runs: number, taskArgs: readonly string[]): JobScript[] {
  return [
    {
      name: 'runs',
      array: runs,
      about: ['One run of experiment × optimizer × seed per task, into DIR/<run>; view them with npm run view -- DIR.'],
      command: sandbox('slurm', 'run-task', ...taskArgs),
    },
  ];
}

/** Stop runs after their current step on SIGTERM (Slurm's warning, scancel) as on Ctrl-C; checkpoints are kept. */
function stopOnSignals(log: Log): void {
  const stop = (signal: string) => {
    if (!stopSignal.requested) log(`${signal}: stopping after the current step; checkpoints and finished runs are kept`);
    stopSignal.requested = true;
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/**
 * Run `work` as task `name` (index `index`), recording its outcome for the submitting command. A
 * phase that is not ready names the logs to read.
 */
async function asTask(out: string, name: string, index: number | undefined, log: Log, work: () => Promise<void>): Promise<TaskOutcome> {
  const where = jobOfEnv(process.env, out, name);
  stopOnSignals(log);
  try {
    await work();
  } catch (e) {
    const failure = e instanceof PhaseNotReady ? new EnvironmentError(`${e.message}; see the logs in ${logDir(out)}`) : e;
    writeStatus(out, name, index, { state: 'failed', ...where, line: firstLine((failure as Error)?.message ?? String(failure)) });
    throw failure;
  }
  if (stopSignal.requested) {
    writeStatus(out, name, index, { state: 'stopped', ...where });
    log(`stopped; a requeued or resubmitted task resumes from the checkpoints`);
    return 'stopped';
  }
  writeStatus(out, name, index, { state: 'done', ...where });
  return 'done';
}

export interface StudyTask {
  readonly study: StudySpec;
  readonly experiments: ReadonlyMap<string, ExperimentSpec>;
  readonly out: string;
  readonly phase: StudyPhase;
  /** Stress round of the ladder (0: the first, or no ladder). */
  readonly round: number;
  readonly index: number;
  readonly tasks: number;
  readonly workers: number;
  readonly checkpointEvery: number | 'auto';
  /** The backend's name, for the first log line. */
  readonly backend: string;
}

/** One array task of one study phase: its share of the phase's runs, into its shard folder. */
export function studyTask(t: StudyTask, log: Log): Promise<TaskOutcome> {
  const name = phaseJobName(t.phase, t.round);
  return asTask(t.out, name, t.index, log, async () => {
    const started = performance.now();
    const mine = await runPhaseTask(t.study, t.experiments, t.out, {
      phase: t.phase,
      round: t.round,
      index: t.index,
      count: t.tasks,
      workers: t.workers,
      checkpointEvery: t.checkpointEvery,
      events: {
        onPhase: (_phase, runs, skipped) =>
          log(`${name} task ${t.index}/${t.tasks} (backend ${t.backend}, ${t.workers} worker${t.workers > 1 ? 's' : ''}): ${runs} runs to do${skipped ? `, ${skipped} already complete` : ''}`),
        onDone: (s) => log(`${s.interrupted ? 'stopped' : 'done'}: ${s.experiment}/${s.optimizer}/s${s.seed} (${s.wallSeconds.toFixed(1)} s)`),
      },
    });
    log(`${name} task ${t.index}: its share of ${mine.length} runs ended after ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
}

/**
 * The finish job: check every run finished, merge the shard folders into `out`, then `report` it.
 * A refused merge (shards from different code or backends) is one line in the log and the status file.
 */
export function finishTask(study: StudySpec, experiments: ReadonlyMap<string, ExperimentSpec>, out: string, report: (dir: string) => Promise<void>, log: Log): Promise<TaskOutcome> {
  return asTask(out, 'finish', undefined, log, async () => {
    let r;
    try {
      r = finishStudy(study, experiments, out);
    } catch (e) {
      if (e instanceof UsageError) throw new EnvironmentError(`${firstLine(e.message)} (the shards are kept in ${join(out, 'shards')})`);
      throw e;
    }
    log(`merged → ${out}: ${r.runs} runs (${r.copied} copied, ${r.duplicates} duplicates), ${formatDuration(r.workerSeconds)} of worker time`);
    await report(out);
  });
}

/** One array task of `slurm tune`: its cost-balanced share of the planned tuning runs. */
export function tuneTask(planned: readonly TunePlanRun[], out: string, index: number, tasks: number, workers: number, log: Log): Promise<TaskOutcome> {
  const owner = assignShares(planned.map((p) => estimateRunSeconds(p.config)), tasks);
  const mine = planned.filter((_, i) => owner[i] === index);
  return asTask(out, 'tune', index, log, async () => {
    log(`tune task ${index}/${tasks}: ${mine.length} runs`);
    // Worker threads even for one worker: the main thread stays free to take SIGTERM.
    await runTasks(mine.map((p) => ({ config: p.config, dir: p.dir })), workers, {}, { inWorkers: true });
  });
}

/** One array task of `slurm run`: run `index` of `configs`, into its own folder under `out`. */
export function runTask(configs: readonly RunConfig[], out: string, index: number, checkpointEvery: number | 'auto', log: Log): Promise<TaskOutcome> {
  const config = configs[index]!;
  return asTask(out, 'runs', index, log, async () => {
    log(`run ${index + 1}/${configs.length}: ${runDirName(config)}`);
    await runTasks([{ config, dir: join(out, runDirName(config)), checkpointEvery }], 1, {}, { inWorkers: true });
  });
}
