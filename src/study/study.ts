/**
 * Running a study: tuning runs, then (per task and optimizer) the tuned LR, then stress runs.
 * Runs whose directory already holds a summary for the same config hash are skipped, so an
 * interrupted study resumes. `--shard i/n` runs a deterministic block of the stress runs plus
 * the tuning runs of every (task, optimizer) group it touches, because stress LRs depend on them.
 * A group split between two shards is tuned by both: identical configs give identical results,
 * and `merge` keeps one copy.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { currentBackend } from '../backend.js';
import type { ExperimentSpec } from '../train/config.js';
import { completedSummary, type RunSummary } from '../train/run.js';
import { ensureDir, readJSON, writeJSONAtomic } from '../train/run_files.js';
import { planStress, planTuning, validateStudy, type PlannedRun, type StudySpec } from './protocol.js';
import { openPool, stopSignal, type PoolEvents, type RunPool } from './pool.js';

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

export interface StudyProgress extends PoolEvents {
  onPhase?(phase: string, runs: number, skipped: number, steps: number): void;
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

const groupKey = (task: string, label: string) => `${task}\u0000${label}`;

/**
 * A tuning run's score: its final eval loss, or its initial loss if it diverged or has no eval
 * (REFERENCE §7); +∞ when even the initial loss is missing (NaN at step 1, stored as null).
 */
export function tuningLoss(summary: RunSummary): number {
  const initial = summary.initialLoss !== null && Number.isFinite(summary.initialLoss) ? summary.initialLoss : Infinity;
  return summary.diverged || summary.evalLoss === null || !Number.isFinite(summary.evalLoss) ? initial : summary.evalLoss;
}

/** Median score per grid LR, in increasing LR order. stats.median rejects +∞; these may hold it. */
export function tuningScores(runs: readonly { lr: number; summary: RunSummary }[]): { lr: number; score: number; n: number }[] {
  const byLr = new Map<number, number[]>();
  for (const { lr, summary } of runs) byLr.set(lr, [...(byLr.get(lr) ?? []), tuningLoss(summary)]);
  return [...byLr.keys()]
    .sort((a, b) => a - b)
    .map((lr) => {
      const xs = byLr.get(lr)!.sort((a, b) => a - b);
      const mid = xs.length >> 1;
      return { lr, score: xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2, n: xs.length };
    });
}

/** The tuned LR: the grid LR with the best median score over seeds; ties go to the smaller LR. */
export function tunedLr(runs: readonly { lr: number; summary: RunSummary }[]): { lr: number; score: number } {
  let best: { lr: number; score: number } | undefined;
  for (const { lr, score } of tuningScores(runs)) if (!best || score < best.score) best = { lr, score };
  if (!best) throw new Error('tunedLr: no tuning results');
  return best;
}

function assertSameStudy(dir: string, file: StudyFile): void {
  const path = join(dir, STUDY_FILE);
  if (!existsSync(path)) {
    writeJSONAtomic(path, file);
    return;
  }
  const existing = readJSON<StudyFile>(path);
  if (JSON.stringify(existing) !== JSON.stringify(JSON.parse(JSON.stringify(file)))) {
    throw new Error(`${dir} holds a different study (${STUDY_FILE} differs); use a new --out folder`);
  }
}

async function execute(dir: string, planned: readonly PlannedRun[], pool: RunPool, phase: string, events: StudyProgress) {
  const backend = currentBackend().name;
  const todo = planned.filter((p) => !completedSummary(join(dir, RUNS_DIR, p.dirName), p.config, backend));
  events.onPhase?.(phase, todo.length, planned.length - todo.length, todo.reduce((a, p) => a + p.config.steps, 0));
  await pool.run(
    todo.map((p) => ({ config: p.config, dir: join(dir, RUNS_DIR, p.dirName) })),
    events,
  );
}

export interface StudyPlanResult {
  readonly tuning: readonly PlannedRun[];
  readonly stress: readonly PlannedRun[];
  readonly tuned: ReadonlyMap<string, number>;
}

/** Run (this shard of) a study into `dir`. Returns what was planned and the tuned LRs it used. */
export async function runStudy(
  study: StudySpec,
  experiments: ReadonlyMap<string, ExperimentSpec>,
  dir: string,
  options: { workers: number; shard?: Shard; events?: StudyProgress },
): Promise<StudyPlanResult> {
  validateStudy(study);
  const events = options.events ?? {};
  ensureDir(join(dir, RUNS_DIR));
  assertSameStudy(dir, { spec: study, experiments: Object.fromEntries(experiments) });

  const labels = [study.baseline, study.treatment];
  const tuning = planTuning(study, experiments);
  // Stress runs are identified before their LR is known: (task, label, multiplier, seed).
  const stressKeys = study.tasks.flatMap((t) =>
    labels.flatMap((label) => study.stress.multipliers.flatMap((m) => study.seeds.map((seed) => ({ task: t, label, m, seed })))),
  );
  const ownedStress = stressKeys.filter((_, i) => inShard(i, stressKeys.length, options.shard));
  const neededGroups = new Set(ownedStress.map((k) => groupKey(k.task.experiment, k.label)));
  // Every group has stress runs, so the groups' tuning runs together cover the whole tuning plan.
  const tuneNeeded = tuning.filter((p) => neededGroups.has(groupKey(p.task, p.label)));

  // One pool for both phases: each worker loads tsx and tfjs and warms up V8 once, not per phase.
  const pool = openPool(options.workers);
  try {
    await execute(dir, tuneNeeded, pool, 'tune', events);
    if (stopSignal.requested) return { tuning: tuneNeeded, stress: [], tuned: new Map() };

    const tuned = new Map<string, number>();
    const stress: PlannedRun[] = [];
    for (const task of study.tasks) {
      for (const label of labels) {
        const key = groupKey(task.experiment, label);
        if (!neededGroups.has(key)) continue;
        const results = tuning
          .filter((p) => p.task === task.experiment && p.label === label)
          .map((p) => ({ lr: p.lr, summary: completedSummary(join(dir, RUNS_DIR, p.dirName), p.config, currentBackend().name) }));
        const missing = results.filter((r) => !r.summary).length;
        if (missing > 0) throw new Error(`tuning of ${task.experiment}/${label} is incomplete (${missing} runs missing)`);
        const lr = tunedLr(results as { lr: number; summary: RunSummary }[]).lr;
        tuned.set(key, lr);
        const owned = new Set(
          ownedStress.filter((k) => k.task === task && k.label === label).map((k) => `${k.m}\u0000${k.seed}`),
        );
        stress.push(
          ...planStress(study, experiments, task, label, lr).filter((p) => owned.has(`${p.multiplier}\u0000${p.seed}`)),
        );
      }
    }
    await execute(dir, stress, pool, 'stress', events);
    return { tuning: tuneNeeded, stress, tuned };
  } finally {
    await pool.close();
  }
}
