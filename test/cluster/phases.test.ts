/**
 * A study run phase by phase as array tasks would (tuning, stress, arms, each split in 2 or 3 by
 * cost; then finish): every run done by exactly one task, each task writing only its own shard
 * folder, and the merged folder equal to the single-machine study run for run and in its report.
 * Also: a phase whose inputs are not finished refuses with one line, the shares are balanced by
 * cost, and a rerun of a task redoes nothing.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { finishStudy, phaseShare, planPhase, PhaseNotReady, runPhaseTask, shardDir, STUDY_PHASES, summariesIn, resultFolders } from '../../src/cluster/phases.js';
import { shareLoads } from '../../src/cluster/balance.js';
import { analyzeStudy } from '../../src/study/analyze.js';
import { estimateRunSeconds } from '../../src/study/cost.js';
import type { StudySpec } from '../../src/study/protocol.js';
import { renderReport } from '../../src/study/report.js';
import { RUNS_DIR, runStudy, type StudyProgress } from '../../src/study/study.js';
import type { ExperimentSpec } from '../../src/train/config.js';
import type { RunSummary } from '../../src/train/run.js';
import { readJSON, SUMMARY_FILE } from '../../src/train/run_files.js';
import { tempDir, tinyMlp, tinyMoe } from '../train/fixtures.js';

const experiments: ReadonlyMap<string, ExperimentSpec> = new Map([
  ['tiny-mlp', tinyMlp],
  ['tiny-moe', tinyMoe],
]);

/** Two tasks of different cost, one with an arm, so all three phases have runs. */
const study: StudySpec = {
  name: 'tiny-phased',
  description: 'test fixture',
  tasks: [{ experiment: 'tiny-mlp', model: { kind: 'mlp', hidden: [8], activation: 'relu' } }, { experiment: 'tiny-moe', arms: ['wsd'], tuneSteps: 40 }],
  baseline: 'adamw',
  treatment: 'muon',
  seeds: [0, 1],
  tune: { grid: { adamw: [1e-3, 1e-2, 1e-1], muon: [0.01, 0.05, 0.25] }, steps: 8 },
  stress: { multipliers: [1, 4], steps: 12 },
  batchSize: 16,
};

let root: string;
let single: string;
beforeAll(async () => {
  await initBackend();
  root = tempDir('phases');
  single = join(root, 'single');
  await runStudy(study, experiments, single, { workers: 1 });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const names = (dir: string) => (existsSync(join(dir, RUNS_DIR)) ? readdirSync(join(dir, RUNS_DIR)).sort() : []);
const summary = (dir: string, name: string) => {
  const { wallSeconds: _w, ...rest } = readJSON<RunSummary>(join(dir, RUNS_DIR, name, SUMMARY_FILE));
  return rest;
};
const metrics = (dir: string, name: string) =>
  readFileSync(join(dir, RUNS_DIR, name, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const { ms: _ms, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });

/** Runs every phase's tasks in order, as the arrays would; returns how many runs each task started. */
async function runAllPhases(out: string, count: number): Promise<Record<string, number>> {
  const started: Record<string, number> = {};
  for (const phase of STUDY_PHASES) {
    for (let index = 0; index < count; index++) {
      let n = 0;
      const events: StudyProgress = { onStart: () => n++ };
      await runPhaseTask(study, experiments, out, { phase, index, count, workers: 1, events });
      started[`${phase}-${index}`] = n;
    }
  }
  return started;
}

describe('phased study', () => {
  it('2 tasks per phase: each run once, in its own shard folder; merged ≡ single machine, same report', async () => {
    const out = join(root, 'two');
    const started = await runAllPhases(out, 2);
    const shardRuns = STUDY_PHASES.flatMap((p) => [0, 1].flatMap((i) => names(shardDir(out, p, i))));
    // Exactly once: no run in two shard folders, and together they are the single-machine study's runs.
    expect(new Set(shardRuns).size).toBe(shardRuns.length);
    expect([...shardRuns].sort()).toEqual(names(single));
    expect(Object.values(started).reduce((a, n) => a + n, 0)).toBe(names(single).length);
    // Each shard folder holds its phase's runs only.
    for (const p of STUDY_PHASES) for (const i of [0, 1]) expect(names(shardDir(out, p, i)).every((n) => n.startsWith(p === 'arms' ? 'arm__' : `${p}__`))).toBe(true);
    expect(names(shardDir(out, 'arms', 0)).length + names(shardDir(out, 'arms', 1)).length).toBeGreaterThan(0);

    const r = finishStudy(study, experiments, out);
    expect(r).toMatchObject({ runs: names(single).length, copied: names(single).length, duplicates: 0, unfinishedSkipped: 0 });
    expect(names(out)).toEqual(names(single));
    for (const n of names(single)) {
      expect(summary(out, n), n).toEqual(summary(single, n));
      expect(metrics(out, n), n).toEqual(metrics(single, n));
    }
    expect(renderReport(analyzeStudy(out), '')).toEqual(renderReport(analyzeStudy(single), ''));
  });

  it('3 tasks: the same runs; a rerun of any task starts nothing', async () => {
    const out = join(root, 'three');
    await runAllPhases(out, 3);
    const shardRuns = STUDY_PHASES.flatMap((p) => [0, 1, 2].flatMap((i) => names(shardDir(out, p, i))));
    expect([...shardRuns].sort()).toEqual(names(single));
    const again = await runAllPhases(out, 3);
    expect(Object.values(again).every((n) => n === 0)).toBe(true);
  });

  it('a phase before its inputs are finished: PhaseNotReady naming the missing runs; nothing written', async () => {
    const out = join(root, 'early');
    await expect(runPhaseTask(study, experiments, out, { phase: 'stress', index: 0, count: 2, workers: 1 })).rejects.toThrow(
      new PhaseNotReady('tuning of tiny-mlp/adamw is incomplete (6 runs missing): the tuning phase has not finished'),
    );
    expect(existsSync(shardDir(out, 'stress', 0))).toBe(false);
    expect(() => finishStudy(study, experiments, out)).toThrow(PhaseNotReady);
  });

  it('a task index outside the task count is refused', async () => {
    await expect(runPhaseTask(study, experiments, join(root, 'bad'), { phase: 'tune', index: 2, count: 2, workers: 1 })).rejects.toThrow('outside 0..1');
  });
});

describe('phase shares', () => {
  it('partition the phase, and are balanced by estimated cost rather than count', () => {
    const tuning = planPhase(study, experiments, 'tune', () => undefined);
    const costs = tuning.map((p) => estimateRunSeconds(p.config));
    // The fixture's two tasks differ in cost, so equal counts would not mean equal work.
    expect(Math.max(...costs) / Math.min(...costs)).toBeGreaterThan(1.5);
    const shares = [0, 1, 2].map((i) => phaseShare(tuning, i, 3));
    expect(shares.flat().map((p) => p.dirName).sort()).toEqual(tuning.map((p) => p.dirName).sort());
    const loads = shareLoads(costs, 3);
    // Longest-first greedy: no share exceeds the ideal by more than the largest single run…
    expect(Math.max(...loads) - costs.reduce((a, c) => a + c, 0) / 3).toBeLessThanOrEqual(Math.max(...costs));
    // …and the longest share is shorter than with equal counts in plan order (the old --shard split).
    const byCount = [0, 1, 2].map((i) => costs.slice(Math.floor((i * costs.length) / 3), Math.floor(((i + 1) * costs.length) / 3)).reduce((a, c) => a + c, 0));
    expect(Math.max(...loads)).toBeLessThan(Math.max(...byCount));
  });

  it('stress plans read the tuning results from any shard folder', () => {
    const out = join(root, 'two');
    const fromShards = planPhase(study, experiments, 'stress', summariesIn(resultFolders(out).slice(1)));
    const fromSingle = planPhase(study, experiments, 'stress', summariesIn([single]));
    expect(fromShards.map((p) => [p.dirName, p.lr])).toEqual(fromSingle.map((p) => [p.dirName, p.lr]));
  });
});
