/**
 * Running a study: tuning runs, then (per task and optimizer) the tuned LR, then stress runs.
 * Runs whose directory already holds a summary for the same config hash are skipped, so an
 * interrupted study resumes. `--shard i/n` runs a deterministic block of the stress runs plus
 * the tuning runs of every (task, optimizer) group it touches, because stress LRs depend on them.
 * A group split between two shards is tuned by both: identical configs give identical results,
 * and `merge` keeps one copy. On a cluster, src/cluster/phases.ts runs the phases one after the
 * other instead, each split by cost, so no run is repeated; it shares tuneGroup, tunedOrFixed,
 * stressPlan, armMultipliersOf and execute with this file.
 *
 * Study v3's stress ladder runs here in rounds: fixed multipliers, the ladder's first rung and the
 * long-horizon runs first, then one rung at a time per task until its stopping rule (failure.ts,
 * ladderNext) ends it; the ladder re-plans from the finished rungs, so it resumes where it stopped.
 *
 * Size: over 400 lines because the plan both paths share (tuned LRs, stress rounds, arm
 * multipliers) must stay beside the single-machine runner that defines the canonical order;
 * split apart, the two paths' plans could drift.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { currentBackend } from '../backend.js';
import type { ExperimentSpec, ModelSpec } from '../train/config.js';
import { completedSummary, type RunSummary } from '../train/run.js';
import { UsageError } from '../errors.js';
import { ensureDir, readJSON, writeJSONAtomic } from '../train/run_files.js';
import { lockFolder } from '../train/lock.js';
import {
  armSeedsOf,
  baseLr,
  onLadder,
  planArm,
  planStress,
  planTuning,
  multLabel,
  seedsOf,
  stressMultipliersOf,
  taskOf,
  validateStudy,
  type PlannedRun,
  type StudySpec,
  type StudyTask,
} from './protocol.js';
import { planLong } from './long_width.js';
import { openPool, stopSignal, type PoolEvents, type RunPool } from './pool.js';
import { armLabels, armNeeds, type ArmName } from './arms.js';
import { armMultipliers, FAILURE_LOSS_FACTOR, firstFailure, ladderNext, type FailureContext } from './failure.js';
import { estimateRunSeconds, estimateWallSeconds } from './cost.js';
import { tunedLr } from './tuning.js';

// The tuning rule lives in tuning.ts (shared with `npm run tune`); re-exported for existing importers.
export { tunedLr, tuningLoss, tuningScores } from './tuning.js';

export const STUDY_FILE = 'study.json';
export const RUNS_DIR = 'runs';

export interface Shard {
  readonly index: number; // 1-based
  readonly count: number;
}

export interface StudyFile {
  readonly spec: StudySpec;
  readonly experiments: Record<string, ExperimentSpec>;
}

/**
 * The study.json at `path`. One that does not parse is the user's to fix (a hand edit, a copy cut
 * short): a UsageError naming the file, not a parser's stack trace.
 */
export function readStudyFile(path: string): StudyFile {
  try {
    return readJSON<StudyFile>(path);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UsageError(`${path} is damaged (${e.message}); restore it, or start a new study folder`);
    throw e;
  }
}

export interface StudyProgress extends PoolEvents {
  /** `estimates`: per run to do (in the order of the pool's run indices), its steps and estimated seconds. */
  onPhase?(phase: string, runs: number, skipped: number, steps: number, estimates?: readonly RunEstimate[]): void;
}

export interface RunEstimate {
  readonly steps: number;
  readonly seconds: number;
}

/**
 * Contiguous blocks of a canonical order: deterministic and balanced in run count. Stress runs
 * are ordered task → optimizer → multiplier → seed, so a shard's block spans few (task, optimizer)
 * groups and repeats little tuning work.
 */
export function inShard(position: number, total: number, shard: Shard | undefined): boolean {
  if (!shard) return true;
  const start = Math.floor(((shard.index - 1) * total) / shard.count);
  const end = Math.floor((shard.index * total) / shard.count);
  return position >= start && position < end;
}

/** The key of a (task, optimizer) group in the maps below. */
export const groupKey = (task: string, label: string) => `${task}\u0000${label}`;

/** Write the study's study.json into `dir`, or check that the one there is the same study. */
export function assertSameStudy(dir: string, file: StudyFile): void {
  const path = join(dir, STUDY_FILE);
  if (!existsSync(path)) {
    writeJSONAtomic(path, file);
    return;
  }
  const existing = readStudyFile(path);
  if (JSON.stringify(existing) !== JSON.stringify(JSON.parse(JSON.stringify(file)))) {
    throw new UsageError(`${dir} holds a different study (${STUDY_FILE} differs); use a new --out folder`);
  }
}

/** Run the planned runs not yet finished in `dir`/runs on `pool`, announcing the phase first. */
export async function execute(
  dir: string,
  planned: readonly PlannedRun[],
  pool: RunPool,
  phase: string,
  events: StudyProgress,
  checkpointEvery: number | 'auto' | undefined,
) {
  const backend = currentBackend().name;
  const todo = planned.filter((p) => !completedSummary(join(dir, RUNS_DIR, p.dirName), p.config, backend));
  events.onPhase?.(
    phase,
    todo.length,
    planned.length - todo.length,
    todo.reduce((a, p) => a + p.config.steps, 0),
    todo.map((p) => ({ steps: p.config.steps, seconds: estimateRunSeconds(p.config) })),
  );
  await pool.run(
    todo.map((p) => ({ config: p.config, dir: join(dir, RUNS_DIR, p.dirName), ...(checkpointEvery !== undefined ? { checkpointEvery } : {}) })),
    events,
  );
}

export interface StudyPlanResult {
  readonly tuning: readonly PlannedRun[];
  readonly stress: readonly PlannedRun[];
  readonly long: readonly PlannedRun[];
  readonly arms: readonly PlannedRun[];
  readonly tuned: ReadonlyMap<string, number>;
  /** Task → the multipliers its arms ran at (tasks with owned arm runs only). */
  readonly armMultipliers: ReadonlyMap<string, readonly number[]>;
}

interface StressKey {
  readonly task: StudyTask;
  readonly label: string;
  readonly m: number;
  readonly seed: number;
}
interface ArmKey {
  readonly task: StudyTask;
  readonly arm: ArmName;
  readonly label: string;
  readonly seed: number;
}

/**
 * A study's experiments by name: the Map the runner builds, or the record a study.json holds (and
 * StudyResults carries), so readers of either need no conversion.
 */
export type Experiments = ReadonlyMap<string, ExperimentSpec> | Readonly<Record<string, ExperimentSpec>>;

const experimentOf = (experiments: Experiments, name: string): ExperimentSpec | undefined =>
  experiments instanceof Map ? experiments.get(name) : (experiments as Readonly<Record<string, ExperimentSpec>>)[name];

/** A task's model: its own override, else its experiment's (undefined for an unknown experiment). */
export const taskModel = (task: StudyTask, experiments: Experiments): ModelSpec | undefined =>
  task.model ?? experimentOf(experiments, task.experiment)?.model;

/** The kind of a task's model. */
export const taskModelKind = (task: StudyTask, experiments: Experiments): string => taskModel(task, experiments)?.kind ?? 'unknown';

/** The arms of a task that can run on its model (the others are reported as not run, with why). */
export const runnableArms = (task: StudyTask, experiments: Experiments): ArmName[] =>
  (task.arms ?? []).filter((a) => a !== 'none' && armNeeds(a, taskModelKind(task, experiments)) === undefined);

/**
 * What a shard runs. Positions in the canonical order — stress runs (task → optimizer → multiplier →
 * seed), then arm runs (task → arm → optimizer → seed) — are split into contiguous blocks. A shard
 * runs its own stress runs; the stress runs of every task it owns arm runs of (the arms' multipliers
 * are derived from them: identical configs give identical results, `merge` keeps one copy); and the
 * tuning runs of every (task, optimizer) group those stress runs belong to.
 */
export function studyShare(study: StudySpec, experiments: ReadonlyMap<string, ExperimentSpec>, shard: Shard | undefined) {
  if (shard && (study.stress.ladder || study.long)) {
    throw new UsageError(
      `--shard splits a fixed plan, and study "${study.name}" has a ladder or a long-horizon phase whose runs follow from earlier results: run it whole on one machine (--workers N)`,
    );
  }
  const labels = [study.baseline, study.treatment];
  const stressKeys: StressKey[] = study.tasks.flatMap((task) =>
    labels.flatMap((label) => stressMultipliersOf(study, task).flatMap((m) => seedsOf(study, task).map((seed) => ({ task, label, m, seed })))),
  );
  const armKeys: ArmKey[] = study.tasks.flatMap((task) =>
    runnableArms(task, experiments).flatMap((arm) =>
      armLabels(arm, study.baseline, study.treatment).flatMap((label) => armSeedsOf(study, task, arm).map((seed) => ({ task, arm, label, seed }))),
    ),
  );
  const total = stressKeys.length + armKeys.length;
  const ownedArms = armKeys.filter((_, i) => inShard(stressKeys.length + i, total, shard));
  const armTasks = new Set(ownedArms.map((k) => k.task.experiment));
  const stressNeeded = stressKeys.filter((k, i) => inShard(i, total, shard) || armTasks.has(k.task.experiment));
  const neededGroups = new Set(stressNeeded.map((k) => groupKey(k.task.experiment, k.label)));
  return { stressNeeded, ownedArms, armTasks, neededGroups };
}

export interface StudyEstimate {
  readonly tune: number;
  /** Stress runs that need only the tuned LRs: fixed multipliers, and the ladder's first rung. */
  readonly stress: number;
  /** The ladder's further rungs, every one up to the cap (an upper bound: the ladder stops where both optimizers fail). */
  readonly ladder: number;
  readonly ladderRungs: number;
  readonly long: number;
  /** Arms at two multipliers, the most they run at (an upper bound). */
  readonly arms: number;
  readonly total: number;
  readonly runs: number;
}

/**
 * The wall time the study (this shard of it) should take, phase by phase, from the FLOP-model
 * cost of each run (cost.ts) on `workers` workers in the pool's longest-first order. Stress, ladder,
 * long and arm runs are costed before their LRs are known (cost does not depend on the LR); arms
 * are counted at two multipliers, the most they can run at, and the ladder at every rung up to its
 * cap. An upper bound in that diverged runs stop early and the ladder stops where both fail.
 */
export function estimateStudy(study: StudySpec, experiments: ReadonlyMap<string, ExperimentSpec>, options: { workers: number; shard?: Shard }): StudyEstimate {
  const share = studyShare(study, experiments, options.shard);
  const anyLr = (label: string) => study.tune.grid[label]![0]!;
  const tuning = planTuning(study, experiments).filter((p) => share.neededGroups.has(groupKey(p.task, p.label)));
  const stressAll = share.stressNeeded.map((k) => planStress(study, experiments, k.task, k.label, anyLr(k.label), [k.m], [k.seed])[0]!);
  const firstRung = (p: PlannedRun) => !onLadder(study, study.tasks.find((t) => t.experiment === p.task)!) || p.multiplier === 1;
  const stress = stressAll.filter(firstRung);
  const ladder = stressAll.filter((p) => !firstRung(p));
  const long = study.tasks.flatMap((task) => [study.baseline, study.treatment].flatMap((l) => planLong(study, experiments, task, l, anyLr(l))));
  const arms = share.ownedArms.flatMap((k) => {
    const lr = { baseline: anyLr(study.baseline), treatment: anyLr(study.treatment) };
    const ms = stressMultipliersOf(study, k.task);
    return planArm(study, experiments, k.task, k.arm, k.label, lr, [ms[0]!, ms[ms.length - 1]!]).filter((p) => p.seed === k.seed);
  });
  const wall = (runs: readonly PlannedRun[]) => estimateWallSeconds(runs.map((p) => estimateRunSeconds(p.config)), options.workers);
  // The ladder's rungs run one after another, each its own pool round.
  const rungs = [...new Set(ladder.map((p) => p.multiplier))].sort((a, b) => a - b);
  const ladderS = rungs.reduce((a, m) => a + wall(ladder.filter((p) => p.multiplier === m)), 0);
  // Long runs share the first stress round's pool (they need only the tuned LRs).
  const [tune, stressLong, armsS] = [wall(tuning), wall([...stress, ...long]), wall(arms)];
  const longAlone = wall(long);
  return {
    tune,
    stress: stressLong - longAlone,
    ladder: ladderS,
    ladderRungs: rungs.length,
    long: longAlone,
    arms: armsS,
    total: tune + stressLong + ladderS + armsS,
    runs: tuning.length + stress.length + ladder.length + long.length + arms.length,
  };
}

/** Where a planned run's finished summary is (undefined: not finished). */
export type SummaryLookup = (p: PlannedRun) => RunSummary | undefined;

/** The tuned LR and its score of one (task, optimizer) group, from its finished tuning runs. */
export function tuneGroup(tuning: readonly PlannedRun[], task: string, label: string, summaryOf: SummaryLookup): { lr: number; score: number } {
  const results = tuning.filter((p) => p.task === task && p.label === label).map((p) => ({ lr: p.lr, summary: summaryOf(p) }));
  const missing = results.filter((r) => !r.summary).length;
  if (missing > 0) throw new Error(`tuning of ${task}/${label} is incomplete (${missing} runs missing)`);
  return tunedLr(results as { lr: number; summary: RunSummary }[]);
}

/**
 * A group's tuned LR and score: tuneGroup's, or for a task with `fixedLr` the experiment's own LR
 * with no score (NaN: the failure rules that compare with the tuned loss are then off).
 */
export function tunedOrFixed(
  experiments: ReadonlyMap<string, ExperimentSpec>,
  tuning: readonly PlannedRun[],
  task: StudyTask,
  label: string,
  summaryOf: SummaryLookup,
): { lr: number; score: number } {
  if (task.fixedLr) return { lr: baseLr(experiments.get(task.experiment)!, label), score: NaN };
  return tuneGroup(tuning, task.experiment, label, summaryOf);
}

/** The failure rule's context on a task, from its groups' tuned scores. */
export function failureContextOf(study: StudySpec, task: StudyTask, tunedScore: ReadonlyMap<string, number>): FailureContext {
  const scores = [study.baseline, study.treatment].map((l) => tunedScore.get(groupKey(task.experiment, l)) ?? NaN);
  return {
    bestTunedLoss: scores.some((x) => !Number.isFinite(x)) ? NaN : Math.min(...scores),
    lossFactor: study.failureLossFactor ?? FAILURE_LOSS_FACTOR,
    ...(study.failureProgressShare !== undefined ? { progressShare: study.failureProgressShare } : {}),
  };
}

/**
 * The stress runs known so far from the tuned LRs and the finished runs: every run of a task with
 * fixed multipliers; on the ladder, every rung up to the next one to run (finished rungs included,
 * so the arms see them). `pending`: some task on the ladder has a rung to run.
 */
export function stressPlan(
  study: StudySpec,
  experiments: ReadonlyMap<string, ExperimentSpec>,
  tuned: ReadonlyMap<string, { lr: number; score: number }>,
  summaryOf: SummaryLookup,
  only?: (task: StudyTask, label: string) => boolean,
): { runs: PlannedRun[]; pending: boolean; next: ReadonlyMap<string, number> } {
  const labels = [study.baseline, study.treatment];
  const runs: PlannedRun[] = [];
  const next = new Map<string, number>();
  for (const task of study.tasks) {
    const wanted = labels.filter((l) => tuned.has(groupKey(task.experiment, l)) && (!only || only(task, l)));
    if (wanted.length === 0) continue;
    const plans = new Map(labels.map((l) => [l, tuned.has(groupKey(task.experiment, l)) ? planStress(study, experiments, task, l, tuned.get(groupKey(task.experiment, l))!.lr) : []]));
    if (!onLadder(study, task)) {
      for (const l of wanted) runs.push(...plans.get(l)!);
      continue;
    }
    const scores = new Map([...tuned].map(([k, v]) => [k, v.score]));
    const rung = ladderNext(
      stressMultipliersOf(study, task),
      labels,
      (l, m) => (plans.get(l) ?? []).filter((p) => p.multiplier === m).map(summaryOf),
      failureContextOf(study, task, scores),
    );
    const top = rung ?? Infinity;
    if (rung !== null) next.set(task.experiment, rung);
    for (const l of wanted) runs.push(...plans.get(l)!.filter((p) => p.multiplier <= top && (rung !== null || summaryOf(p) !== undefined)));
  }
  return { runs, pending: next.size > 0, next };
}

/**
 * The multipliers a task's arms run at: where either optimizer first fails in the task's finished
 * stress runs (`stress` may hold other tasks' runs too; `tunedScore` is keyed by task and label).
 */
export function armMultipliersOf(
  study: StudySpec,
  task: StudyTask,
  tunedScore: ReadonlyMap<string, number>,
  stress: readonly PlannedRun[],
  summaryOf: SummaryLookup,
): readonly number[] {
  const labels = [study.baseline, study.treatment];
  const ctx = failureContextOf(study, task, tunedScore);
  const tested = new Set<number>();
  const firsts = labels.map((label) => {
    const byM = new Map<number, RunSummary[]>();
    for (const p of stress.filter((q) => q.task === task.experiment && q.label === label)) {
      const s = summaryOf(p);
      if (!s) throw new Error(`stress run ${p.dirName} has no summary; cannot place the arms`);
      byM.set(p.multiplier, [...(byM.get(p.multiplier) ?? []), s]);
      tested.add(p.multiplier);
    }
    return firstFailure(byM, ctx);
  });
  // Neither fails: the largest multiplier tested (on the ladder, the cap or where it stopped).
  return armMultipliers(firsts, tested.size > 0 ? [...tested] : stressMultipliersOf(study, task));
}

export interface StudyRunOptions {
  readonly workers: number;
  readonly shard?: Shard;
  readonly events?: StudyProgress;
  readonly checkpointEvery?: number | 'auto';
}

/** Run (this shard of) a study into `dir`. Returns what was planned and the tuned LRs it used. */
export async function runStudy(
  study: StudySpec,
  experiments: ReadonlyMap<string, ExperimentSpec>,
  dir: string,
  options: StudyRunOptions,
): Promise<StudyPlanResult> {
  validateStudy(study);
  ensureDir(join(dir, RUNS_DIR));
  // One writer per study folder: a second study process on it stops here, naming the holder's pid.
  const lock = lockFolder(dir, 'study folder');
  try {
    return await runStudyLocked(study, experiments, dir, options);
  } finally {
    lock.release();
  }
}

async function runStudyLocked(
  study: StudySpec,
  experiments: ReadonlyMap<string, ExperimentSpec>,
  dir: string,
  options: StudyRunOptions,
): Promise<StudyPlanResult> {
  // runStudy validated the spec and created runs/ before taking the lock.
  const events = options.events ?? {};
  assertSameStudy(dir, { spec: study, experiments: Object.fromEntries(experiments) });

  const labels = [study.baseline, study.treatment];
  const tuning = planTuning(study, experiments);
  const share = studyShare(study, experiments, options.shard);
  // Every group has stress runs, so the groups' tuning runs together cover the whole tuning plan.
  const tuneNeeded = tuning.filter((p) => share.neededGroups.has(groupKey(p.task, p.label)));
  const backend = currentBackend().name;
  const summaryOf = (p: PlannedRun) => completedSummary(join(dir, RUNS_DIR, p.dirName), p.config, backend);

  // One pool for every phase: each worker loads tsx and tfjs and warms up V8 once, not per phase.
  const pool = openPool(options.workers);
  try {
    await execute(dir, tuneNeeded, pool, 'tune', events, options.checkpointEvery);
    const none = { tuning: tuneNeeded, stress: [], long: [], arms: [], tuned: new Map(), armMultipliers: new Map() };
    if (stopSignal.requested) return none;

    const tuned = new Map<string, number>();
    const tunedScore = new Map<string, number>();
    const tunedBoth = new Map<string, { lr: number; score: number }>();
    for (const task of study.tasks) {
      for (const label of labels) {
        const key = groupKey(task.experiment, label);
        if (!share.neededGroups.has(key)) continue;
        const best = tunedOrFixed(experiments, tuning, task, label, summaryOf);
        tuned.set(key, best.lr);
        tunedScore.set(key, best.score);
        tunedBoth.set(key, best);
      }
    }
    const owned = (task: StudyTask, label: string) => (p: PlannedRun) =>
      share.stressNeeded.some((k) => k.task === task && k.label === label && k.m === p.multiplier && k.seed === p.seed);
    // The long-horizon runs need only the tuned LRs: they share the first stress round's pool.
    const long = study.tasks.flatMap((task) =>
      labels.filter((l) => tunedBoth.has(groupKey(task.experiment, l))).flatMap((l) => planLong(study, experiments, task, l, tuned.get(groupKey(task.experiment, l))!)),
    );
    // Stress rounds: fixed multipliers and the ladder's first rung, then one rung at a time per task
    // on the ladder until each task's stopping rule (failure.ts, ladderNext) ends it.
    let stress: PlannedRun[] = [];
    for (let round = 0; ; round++) {
      const plan = stressPlan(study, experiments, tunedBoth, summaryOf);
      // Without a ladder the share's own runs (a shard owns a block of the fixed plan).
      stress = study.stress.ladder ? plan.runs : plan.runs.filter((p) => owned(study.tasks.find((t) => t.experiment === p.task)!, p.label)(p));
      const batch = round === 0 ? [...stress, ...long] : stress;
      if (round > 0 && !plan.pending) break;
      const rungs = (next: Iterable<[string, number]>) => [...next].map(([t, m]) => `${t} ${multLabel(m)}`).join(', ');
      // A resumed study's first round also holds the ladder rungs it had reached: name them.
      const reached = [...plan.next].filter(([t, m]) => m > stressMultipliersOf(study, taskOf(study, t)!)[0]!);
      const name =
        round === 0
          ? `${long.length > 0 ? 'stress + long' : 'stress'}${reached.length > 0 ? `, ladder up to ${rungs(reached)}` : ''}`
          : `ladder ${rungs(plan.next)}`;
      await execute(dir, batch, pool, name, events, options.checkpointEvery);
      if (stopSignal.requested) return { ...none, stress, long, tuned };
      const unfinished = batch.find((p) => !summaryOf(p));
      if (unfinished) throw new Error(`stress run ${unfinished.dirName} did not finish; rerun to resume`);
      if (!study.stress.ladder) break;
    }

    // Arms: at the multipliers where either optimizer first fails, from this task's stress runs.
    const arms: PlannedRun[] = [];
    const multipliersByTask = new Map<string, readonly number[]>();
    for (const task of study.tasks) {
      if (!share.armTasks.has(task.experiment)) continue;
      const ms = armMultipliersOf(study, task, tunedScore, stress, summaryOf);
      multipliersByTask.set(task.experiment, ms);
      const lrs = { baseline: tuned.get(groupKey(task.experiment, study.baseline))!, treatment: tuned.get(groupKey(task.experiment, study.treatment))! };
      for (const k of share.ownedArms.filter((a) => a.task === task)) {
        // planArm plans the arm's seeds; a shard owns some of them.
        arms.push(...planArm(study, experiments, task, k.arm, k.label, lrs, ms).filter((p) => p.seed === k.seed));
      }
    }
    // A study without runnable arms has two phases, as before arms existed.
    if (study.tasks.some((t) => runnableArms(t, experiments).length > 0)) await execute(dir, arms, pool, 'arms', events, options.checkpointEvery);
    return { tuning: tuneNeeded, stress, long, arms, tuned, armMultipliers: multipliersByTask };
  } finally {
    await pool.close();
  }
}
