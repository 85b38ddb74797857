/**
 * A study split into phases that run as separate jobs (docs/cluster.md): every tuning run, then
 * every stress run (their LRs come from the finished tuning), then every arm run (their multipliers
 * come from the finished stress runs), then one merge. Within a phase, runs are shared among array
 * tasks by estimated cost (balance.ts), and each run belongs to exactly one task, so no work is
 * repeated. Each task writes only its own folder, DIR/shards/<phase>-<index>/, a study folder of
 * its own; later phases read earlier results from all shard folders; `finishStudy` merges them
 * into DIR, where the report is made as for a single-machine study.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { currentBackend } from '../backend.js';
import { EnvironmentError } from '../errors.js';
import type { ExperimentSpec } from '../train/config.js';
import { completedSummary, type RunSummary } from '../train/run.js';
import { ensureDir } from '../train/run_files.js';
import { lockFolder } from '../train/lock.js';
import { planArm, planStress, planTuning, validateStudy, type PlannedRun, type StudySpec } from '../study/protocol.js';
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
  tuneGroup,
  type StudyProgress,
  type SummaryLookup,
} from '../study/study.js';
import { armLabels } from '../study/arms.js';
import { assignShares, shareLoads } from './balance.js';

export const STUDY_PHASES = ['tune', 'stress', 'arms'] as const;
export type StudyPhase = (typeof STUDY_PHASES)[number];

/** The folder holding every array task's own study folder. */
export const SHARDS_DIR = 'shards';

export const shardDir = (out: string, phase: StudyPhase, index: number) => join(out, SHARDS_DIR, `${phase}-${index}`);

/** The study folders whose finished runs later phases read: every shard folder, and DIR itself (a merged or single-machine study). */
export function resultFolders(out: string): string[] {
  const root = join(out, SHARDS_DIR);
  const shards = existsSync(root) ? readdirSync(root).sort().map((n) => join(root, n)) : [];
  return [out, ...shards];
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
  const stress: PlannedRun[] = [];
  for (const task of study.tasks) {
    for (const label of labels) {
      let best: { lr: number; score: number };
      try {
        best = tuneGroup(tuning, task.experiment, label, summaryOf);
      } catch (e) {
        throw new PhaseNotReady(`${(e as Error).message}: the tuning phase has not finished`);
      }
      tuned.set(groupKey(task.experiment, label), best);
      stress.push(...planStress(study, experiments, task, label, best.lr));
    }
  }
  if (phase === 'stress') return stress;
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
        for (const seed of study.seeds) arms.push(...planArm(study, experiments, task, arm, label, lrs, ms).filter((p) => p.seed === seed));
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

export interface PhaseTaskOptions {
  readonly phase: StudyPhase;
  /** 0-based, as SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX count. */
  readonly index: number;
  readonly count: number;
  readonly workers: number;
  readonly events?: StudyProgress;
  readonly checkpointEvery?: number | 'auto';
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
  const all = planPhase(study, experiments, o.phase, summariesIn(resultFolders(out)));
  const mine = phaseShare(all, o.index, o.count);
  const dir = shardDir(out, o.phase, o.index);
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
  const stress = study.tasks.flatMap((task) => [study.baseline, study.treatment].flatMap((l) => planStress(study, experiments, task, l, anyLr(l))));
  const ms = [study.stress.multipliers[0]!, study.stress.multipliers[study.stress.multipliers.length - 1]!];
  const lrs = { baseline: anyLr(study.baseline), treatment: anyLr(study.treatment) };
  const arms = study.tasks.flatMap((task) =>
    runnableArms(task, experiments).flatMap((arm) =>
      armLabels(arm, study.baseline, study.treatment).flatMap((l) => planArm(study, experiments, task, arm, l, lrs, ms)),
    ),
  );
  const byPhase: Record<StudyPhase, PlannedRun[]> = { tune: planTuning(study, experiments), stress, arms };
  return STUDY_PHASES.map((phase) => {
    const costs = byPhase[phase].map((p) => estimateRunSeconds(p.config));
    const loads = shareLoads(costs, tasks);
    return { phase, runs: costs.length, workerSeconds: costs.reduce((a, c) => a + c, 0), longestTaskSeconds: Math.max(...loads) };
  });
}
