/**
 * A study split into phases that run as separate jobs (docs/cluster.md): every tuning run, then
 * every stress run (their LRs come from the finished tuning), then every arm run (their multipliers
 * come from the finished stress runs), then one merge. Within a phase, runs are shared among array
 * tasks by estimated cost (balance.ts), and each run belongs to exactly one task, so no work is
 * repeated. Each task writes only its own folder, DIR/shards/<phase>-<index>/, a study folder of
 * its own; later phases read earlier results from all shard folders; `finishStudy` merges them
 * into DIR, where the report is made as for a single-machine study.
 *
 * The stress ladder (study v3) and the long-horizon runs: the stress phase runs in rounds. Round 0
 * holds the runs that need only the tuned LRs (fixed multipliers, the ladder's first rung, the
 * long-horizon runs); round k the next rung of every task still on the ladder. A round's plan is
 * read from the results of the folders *before* it (its own round's folders, `stress-r<k>-<i>`,
 * are left out), so every array task of the round computes the same plan however far the others
 * have got, and resumes to it after a requeue. The ladder has at most ladderRounds(study) rounds
 * (1 + log₂ cap), so they can be submitted up front, chained; a round after the ladder stopped
 * plans nothing and ends at once.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { currentBackend } from '../backend.js';
import { EnvironmentError, UsageError } from '../errors.js';
import type { ExperimentSpec } from '../train/config.js';
import { completedSummary, type RunSummary } from '../train/run.js';
import { ensureDir } from '../train/run_files.js';
import { lockFolder } from '../train/lock.js';
import { planLong } from '../study/long_width.js';
import { armSeedsOf, ladderRungs, planArm, planStress, planTuning, stressMultipliersOf, validateStudy, type PlannedRun, type StudySpec } from '../study/protocol.js';
import { openPool } from '../study/pool.js';
import { estimateRunSeconds } from '../study/cost.js';
import { mergeStudies, type MergeResult } from '../study/merge.js';
import {
  armMultipliersOf,
  assertSameStudy,
  execute,
  groupKey,
  runnableArms,
  RUNS_DIR,
  stressPlan,
  tunedOrFixed,
  type StudyRunOptions,
  type SummaryLookup,
} from '../study/study.js';
import { armLabels } from '../study/arms.js';
import { assignShares, shareLoads } from './balance.js';

export const STUDY_PHASES = ['tune', 'stress', 'arms'] as const;
export type StudyPhase = (typeof STUDY_PHASES)[number];

/** The folder holding every array task's own study folder. */
export const SHARDS_DIR = 'shards';

/** A phase's job name: the phase, with its round after the first (`stress-r1`); status files, logs and shard folders go by it. */
export const phaseJobName = (phase: StudyPhase, round = 0) => (round > 0 ? `${phase}-r${round}` : phase);

/** An array task's folder; stress round k > 0 of the ladder gets its own (`stress-r<k>-<index>`). */
export const shardDir = (out: string, phase: StudyPhase, index: number, round = 0) => join(out, SHARDS_DIR, `${phaseJobName(phase, round)}-${index}`);

/** How many stress rounds a study can need: 1, or one per ladder rung. */
export const ladderRounds = (study: StudySpec): number => (study.stress.ladder ? ladderRungs(study.stress.ladder.cap).length : 1);

/** The study folders whose finished runs later phases read: every shard folder, and DIR itself (a merged or single-machine study). */
export function resultFolders(out: string): string[] {
  const root = join(out, SHARDS_DIR);
  const shards = existsSync(root) ? readdirSync(root).sort().map((n) => join(root, n)) : [];
  return [out, ...shards];
}

/**
 * The array jobs of a study in submission order, each depending on the one before: tuning, the
 * stress rounds (one without a ladder; one per rung with one), the arms. The submitting command
 * passes `round` to runPhaseTask for each stress round.
 */
export function phaseRounds(study: StudySpec): { phase: StudyPhase; round: number }[] {
  const rounds = Array.from({ length: ladderRounds(study) }, (_, round) => ({ phase: 'stress' as const, round }));
  return [{ phase: 'tune', round: 0 }, ...rounds, { phase: 'arms', round: 0 }];
}

/** The result folders stress round `round` plans from: every folder but those of this round and later ones. */
export function foldersBeforeRound(out: string, round: number): string[] {
  const root = join(out, SHARDS_DIR);
  return resultFolders(out).filter((f) => {
    if (f === out) return true;
    const m = /^stress-(?:r(\d+)-)?\d+$/.exec(f.slice(root.length + 1));
    return !m || Number(m[1] ?? 0) < round;
  });
}

/** A lookup of finished runs across `folders` (the first folder holding a matching summary wins). */
export function summariesIn(folders: readonly string[]): SummaryLookup {
  const backend = currentBackend().name;
  return (p: PlannedRun) => {
    for (const f of folders) {
      const s = completedSummary(join(f, RUNS_DIR, p.dirName), p.config, backend);
      if (s) return s;
    }
    return undefined;
  };
}

/** A phase that cannot be planned because an earlier one has not finished (exit status 1: wait or rerun). */
export class PhaseNotReady extends EnvironmentError {
  override name = 'PhaseNotReady';
}

/**
 * Every run of `phase`, in the canonical order of the single-machine study. Stress and arm runs
 * need the earlier phases' results (`summaryOf`); a missing one throws PhaseNotReady.
 */
export function planPhase(
  study: StudySpec,
  experiments: ReadonlyMap<string, ExperimentSpec>,
  phase: StudyPhase,
  summaryOf: SummaryLookup,
): PlannedRun[] {
  validateStudy(study);
  const tuning = planTuning(study, experiments);
  if (phase === 'tune') return tuning;
  const labels = [study.baseline, study.treatment];
  const tuned = new Map<string, { lr: number; score: number }>();
  const long: PlannedRun[] = [];
  for (const task of study.tasks) {
    for (const label of labels) {
      let best: { lr: number; score: number };
      try {
        best = tunedOrFixed(experiments, tuning, task, label, summaryOf);
      } catch (e) {
        throw new PhaseNotReady(`${(e as Error).message}: the tuning phase has not finished`);
      }
      tuned.set(groupKey(task.experiment, label), best);
      long.push(...planLong(study, experiments, task, label, best.lr));
    }
  }
  // Fixed multipliers, and each ladder's rungs up to its next one (finished rungs included).
  const plan = stressPlan(study, experiments, tuned, summaryOf);
  const stress = plan.runs;
  if (phase === 'stress') return [...stress, ...long];
  if (plan.pending) throw new PhaseNotReady(`the stress ladder has a rung to run (${[...plan.next].map(([t, m]) => `${t} ${m}×`).join(', ')})`);
  const scores = new Map([...tuned].map(([k, v]) => [k, v.score]));
  const arms: PlannedRun[] = [];
  for (const task of study.tasks) {
    const runnable = runnableArms(task, experiments);
    if (runnable.length === 0) continue;
    let ms: readonly number[];
    try {
      ms = armMultipliersOf(study, task, scores, stress, summaryOf);
    } catch (e) {
      throw new PhaseNotReady(`${(e as Error).message}: the stress phase has not finished`);
    }
    const lrs = { baseline: tuned.get(groupKey(task.experiment, study.baseline))!.lr, treatment: tuned.get(groupKey(task.experiment, study.treatment))!.lr };
    // The single-machine order: task → arm → optimizer → seed (each planArm call is one seed's runs at every multiplier).
    for (const arm of runnable) {
      for (const label of armLabels(arm, study.baseline, study.treatment)) {
        for (const seed of armSeedsOf(study, task, arm)) arms.push(...planArm(study, experiments, task, arm, label, lrs, ms).filter((p) => p.seed === seed));
      }
    }
  }
  return arms;
}

/** The runs of `phase` that array task `index` (0-based) of `count` owns, balanced by estimated cost. */
export function phaseShare(runs: readonly PlannedRun[], index: number, count: number): PlannedRun[] {
  const owner = assignShares(runs.map((p) => estimateRunSeconds(p.config)), count);
  return runs.filter((_, i) => owner[i] === index);
}

/** One array task's share of a phase: the single-machine run options without --shard (the index says which share). */
export interface PhaseTaskOptions extends Omit<StudyRunOptions, 'shard'> {
  readonly phase: StudyPhase;
  /** 0-based, as SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX count. */
  readonly index: number;
  readonly count: number;
  /** Stress round (0-based; > 0 only on a ladder, see the header). */
  readonly round?: number;
}

/**
 * Run one array task's share of one phase into its own folder (resuming what it finished before).
 * Returns the runs it owns.
 */
export async function runPhaseTask(
  study: StudySpec,
  experiments: ReadonlyMap<string, ExperimentSpec>,
  out: string,
  o: PhaseTaskOptions,
): Promise<PlannedRun[]> {
  if (!(Number.isInteger(o.index) && o.index >= 0 && o.index < o.count)) throw new Error(`task index ${o.index} is outside 0..${o.count - 1}`);
  const round = o.round ?? 0;
  if (round > 0 && (o.phase !== 'stress' || round >= ladderRounds(study))) {
    throw new UsageError(`--round ${round}: only the stress phase of a study with a ladder has rounds (here 0..${ladderRounds(study) - 1})`);
  }
  let all: PlannedRun[];
  if (o.phase === 'stress' && study.stress.ladder) {
    // The round's plan from the folders before it, less what they finished: the same in every task of the round.
    const before = summariesIn(foldersBeforeRound(out, round));
    all = planPhase(study, experiments, 'stress', before).filter((p) => !before(p));
  } else {
    all = planPhase(study, experiments, o.phase, summariesIn(resultFolders(out)));
  }
  const mine = phaseShare(all, o.index, o.count);
  const dir = shardDir(out, o.phase, o.index, round);
  ensureDir(join(dir, RUNS_DIR));
  // One process per shard folder: a duplicate of this array task stops here, naming the holder.
  const lock = lockFolder(dir, 'shard folder');
  try {
    assertSameStudy(dir, { spec: study, experiments: Object.fromEntries(experiments) });
    // Worker threads even for one worker: the main thread stays free to handle SIGTERM (the time-limit
    // warning) and tell the runs to stop; a run in this thread would hold the event loop until it ends.
    const pool = openPool(Math.min(o.workers, Math.max(1, mine.length)), { inWorkers: true });
    try {
      await execute(dir, mine, pool, o.phase, o.events ?? {}, o.checkpointEvery);
    } finally {
      await pool.close();
    }
  } finally {
    lock.release();
  }
  return mine;
}

export interface FinishResult extends MergeResult {
  readonly runs: number;
  readonly workerSeconds: number;
}

/**
 * Merge every shard folder into `out` after checking that every run of every phase finished
 * (one line naming the first missing run otherwise). `workerSeconds`: the summed wall time of the
 * runs, the compute the study took whatever the number of tasks.
 */
export function finishStudy(study: StudySpec, experiments: ReadonlyMap<string, ExperimentSpec>, out: string): FinishResult {
  const folders = resultFolders(out);
  const summaryOf = summariesIn(folders);
  const runs = STUDY_PHASES.flatMap((phase) => planPhase(study, experiments, phase, summaryOf));
  const summaries: RunSummary[] = [];
  for (const p of runs) {
    const s = summaryOf(p);
    if (!s) throw new PhaseNotReady(`${p.phase} run ${p.dirName} has not finished`);
    summaries.push(s);
  }
  const shards = folders.slice(1);
  const merged = shards.length > 0 ? mergeStudies(shards, out) : { copied: 0, duplicates: 0, unfinishedSkipped: 0 };
  return { ...merged, runs: runs.length, workerSeconds: summaries.reduce((a, s) => a + s.wallSeconds, 0) };
}

export interface PhaseEstimate {
  readonly phase: StudyPhase;
  readonly runs: number;
  /** Estimated compute of the phase on one CPU (FLOP model, cost.ts). */
  readonly workerSeconds: number;
  /** Estimated wall time of the phase's longest array task with `tasks` tasks on one CPU each. */
  readonly longestTaskSeconds: number;
}

/**
 * What each phase costs before any run: stress and arm runs costed at any LR (the cost does not
 * depend on it), arms at two multipliers, the most they run at, so an upper bound there.
 */
export function estimatePhases(study: StudySpec, experiments: ReadonlyMap<string, ExperimentSpec>, tasks: number): PhaseEstimate[] {
  const anyLr = (label: string) => study.tune.grid[label]![0]!;
  // Every ladder rung up to the cap, and the long-horizon runs: an upper bound of the stress rounds together.
  const stress = study.tasks.flatMap((task) =>
    [study.baseline, study.treatment].flatMap((l) => [...planStress(study, experiments, task, l, anyLr(l)), ...planLong(study, experiments, task, l, anyLr(l))]),
  );
  const lrs = { baseline: anyLr(study.baseline), treatment: anyLr(study.treatment) };
  const arms = study.tasks.flatMap((task) => {
    const all = stressMultipliersOf(study, task);
    const ms = [all[0]!, all[all.length - 1]!];
    return runnableArms(task, experiments).flatMap((arm) =>
      armLabels(arm, study.baseline, study.treatment).flatMap((l) => planArm(study, experiments, task, arm, l, lrs, ms)),
    );
  });
  const byPhase: Record<StudyPhase, PlannedRun[]> = { tune: planTuning(study, experiments), stress, arms };
  return STUDY_PHASES.map((phase) => {
    const costs = byPhase[phase].map((p) => estimateRunSeconds(p.config));
    const loads = shareLoads(costs, tasks);
    return { phase, runs: costs.length, workerSeconds: costs.reduce((a, c) => a + c, 0), longestTaskSeconds: Math.max(...loads) };
  });
}
