/**
 * Running a study end to end on a tiny spec (two tasks, 2 seeds, 3-point grids, 8 tuning and 12
 * stress steps: 40 runs of a few tens of milliseconds each): resume after a kill, the refusal of a
 * folder that holds another study, shard + merge ≡ unsharded (files and report), merge refusals,
 * and the pure pieces (inShard, tunedLr, planTuning, planStress).
 */
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { analyzeStudy } from '../../src/study/analyze.js';
import { mergeStudies } from '../../src/study/merge.js';
import { baseLr, planStress, planTuning, type StudySpec } from '../../src/study/protocol.js';
import { renderReport } from '../../src/study/report.js';
import { estimateStudy, inShard, runStudy, tunedLr, RUNS_DIR, STUDY_FILE, type StudyProgress } from '../../src/study/study.js';
import { chooseTunedLr } from '../../src/study/tuning.js';
import type { ExperimentSpec } from '../../src/train/config.js';
import type { RunSummary } from '../../src/train/run.js';
import { METRICS_FILE, SUMMARY_FILE, ensureDir, readJSON, writeJSONAtomic } from '../../src/train/run_files.js';
import { fakeSummary, tempDir, tinyMlp, tinyMoe } from '../train/fixtures.js';

const experiments: ReadonlyMap<string, ExperimentSpec> = new Map([
  ['tiny-mlp', tinyMlp],
  ['tiny-moe', tinyMoe],
]);

const study: StudySpec = {
  name: 'tiny-study',
  description: 'test fixture',
  tasks: [{ experiment: 'tiny-mlp', model: { kind: 'mlp', hidden: [8], activation: 'relu' } }, { experiment: 'tiny-moe' }],
  baseline: 'adamw',
  treatment: 'muon',
  seeds: [0, 1],
  tune: { grid: { adamw: [1e-3, 1e-2, 1e-1], muon: [0.01, 0.05, 0.25] }, steps: 8 },
  stress: { multipliers: [1, 4], steps: 12 },
  batchSize: 16,
};
const TUNING_RUNS = 2 * 2 * 3 * 2; // tasks × optimizers × grid × seeds
const STRESS_RUNS = 2 * 2 * 2 * 2; // tasks × optimizers × multipliers × seeds

let root: string;
/** The unsharded study, run once and shared (read-only) by the tests below. */
let A: string;
let tunedA: ReadonlyMap<string, number>;

beforeAll(async () => {
  await initBackend();
  root = tempDir('study');
  A = join(root, 'A');
  tunedA = (await runStudy(study, experiments, A, { workers: 1 })).tuned;
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const runNames = (dir: string) => (existsSync(join(dir, RUNS_DIR)) ? readdirSync(join(dir, RUNS_DIR)).sort() : []);
const summaryPath = (dir: string, name: string) => join(dir, RUNS_DIR, name, SUMMARY_FILE);
const metricsPath = (dir: string, name: string) => join(dir, RUNS_DIR, name, METRICS_FILE);

/** A summary without what legitimately differs between two executions of one config. */
function comparable(s: RunSummary) {
  const { wallSeconds: _w, ...rest } = s;
  return rest;
}
const summaryOf = (dir: string, name: string) => comparable(readJSON<RunSummary>(summaryPath(dir, name)));
/** metrics.jsonl records without the per-step wall time. */
const metricsOf = (dir: string, name: string) =>
  readFileSync(metricsPath(dir, name), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const { ms: _ms, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });

/** Records the events runStudy emits. */
function spy() {
  const phases: [string, number, number, number][] = [];
  const started: string[] = [];
  const events: StudyProgress = {
    onPhase: (phase, runs, skipped, steps) => phases.push([phase, runs, skipped, steps]),
    onStart: (task) => started.push(basename(task.dir)),
  };
  return { phases, started, events };
}

describe('runStudy on a tiny study', () => {
  it('writes every planned run, with a finished summary, and tunes each group on its grid', () => {
    const names = runNames(A);
    expect(names).toHaveLength(TUNING_RUNS + STRESS_RUNS);
    expect(names.filter((n) => n.startsWith('tune__'))).toHaveLength(TUNING_RUNS);
    expect(names.filter((n) => n.startsWith('stress__'))).toHaveLength(STRESS_RUNS);
    for (const n of names) expect(existsSync(summaryPath(A, n)), n).toBe(true);
    expect(readJSON(join(A, STUDY_FILE))).toEqual(JSON.parse(JSON.stringify({ spec: study, experiments: Object.fromEntries(experiments) })));
    expect([...tunedA.keys()].sort()).toEqual(['tiny-mlp\u0000adamw', 'tiny-mlp\u0000muon', 'tiny-moe\u0000adamw', 'tiny-moe\u0000muon']);
    for (const [key, lr] of tunedA) expect(study.tune.grid[key.split('\u0000')[1]!]).toContain(lr);
    // The stress runs use the tuned LR × multiplier.
    for (const [key, lr] of tunedA) {
      const [task, label] = key.split('\u0000') as [string, string];
      for (const m of study.stress.multipliers) {
        const s = readJSON<RunSummary>(summaryPath(A, `stress__${task}__${label}__x${m}__s0`));
        expect(s.lrScale).toBeCloseTo((lr * m) / baseLr(experiments.get(task)!, label), 12);
        expect(s.plannedSteps).toBe(study.stress.steps);
      }
    }
  });

  it('resumes: only runs without a valid summary are re-executed, and they reproduce the originals', async () => {
    const R = join(root, 'resume');
    cpSync(A, R, { recursive: true });
    const names = runNames(R);
    const before = new Map(
      names.map((n) => [n, { mtimeMs: statSync(summaryPath(R, n)).mtimeMs, text: readFileSync(summaryPath(R, n), 'utf8') }]),
    );
    const originalSummaries = new Map(names.map((n) => [n, summaryOf(R, n)]));
    const originalMetrics = new Map(names.map((n) => [n, metricsOf(R, n)]));

    const tuneNames = names.filter((n) => n.startsWith('tune__'));
    const stressNames = names.filter((n) => n.startsWith('stress__'));
    // Killed runs: no summary.json; the stress one was killed mid-step, leaving half its metrics and a torn line.
    const killed = [tuneNames[0]!, tuneNames[tuneNames.length - 1]!, stressNames[1]!, stressNames[stressNames.length - 2]!];
    for (const n of killed) rmSync(summaryPath(R, n));
    const torn = killed[2]!;
    const lines = readFileSync(metricsPath(R, torn), 'utf8').split('\n');
    writeFileSync(metricsPath(R, torn), `${lines.slice(0, 5).join('\n')}\n${lines[5]!.slice(0, 17)}`);
    // A summary for another config (stale hash) or another backend does not count as finished either.
    const staleHash = tuneNames[3]!;
    writeJSONAtomic(summaryPath(R, staleHash), { ...readJSON<RunSummary>(summaryPath(R, staleHash)), configHash: '0000000000000000' });
    const otherBackend = stressNames[4]!;
    writeJSONAtomic(summaryPath(R, otherBackend), { ...readJSON<RunSummary>(summaryPath(R, otherBackend)), backend: 'cpu-elsewhere' });
    const redo = [...killed, staleHash, otherBackend].sort();
    const redoTune = redo.filter((n) => n.startsWith('tune__')).length;
    const redoStress = redo.length - redoTune;
    const kept = names.filter((n) => !redo.includes(n));
    const keptBefore = new Map(kept.map((n) => [n, { mtimeMs: statSync(summaryPath(R, n)).mtimeMs, text: readFileSync(summaryPath(R, n), 'utf8') }]));

    const s = spy();
    const result = await runStudy(study, experiments, R, { workers: 1, events: s.events });
    expect(s.started.sort()).toEqual(redo);
    expect(s.phases).toEqual([
      ['tune', redoTune, TUNING_RUNS - redoTune, redoTune * study.tune.steps],
      ['stress', redoStress, STRESS_RUNS - redoStress, redoStress * study.stress.steps],
    ]);
    expect(result.tuned).toEqual(tunedA);
    for (const n of redo) {
      expect(summaryOf(R, n), n).toEqual(originalSummaries.get(n));
      expect(metricsOf(R, n), n).toEqual(originalMetrics.get(n));
    }
    // Untouched runs were not rewritten.
    for (const n of kept) {
      expect(statSync(summaryPath(R, n)).mtimeMs, n).toBe(keptBefore.get(n)!.mtimeMs);
      expect(readFileSync(summaryPath(R, n), 'utf8'), n).toBe(before.get(n)!.text);
    }
    // Once complete, a rerun executes nothing.
    const again = spy();
    await runStudy(study, experiments, R, { workers: 1, events: again.events });
    expect(again.started).toEqual([]);
    expect(again.phases).toEqual([
      ['tune', 0, TUNING_RUNS, 0],
      ['stress', 0, STRESS_RUNS, 0],
    ]);
    expect(renderReport(analyzeStudy(R))).toBe(renderReport(analyzeStudy(A)));
  });

  it('refuses a folder that holds a different study, before running anything', async () => {
    const studyJson = readFileSync(join(A, STUDY_FILE), 'utf8');
    const s = spy();
    await expect(runStudy({ ...study, seeds: [0, 1, 2] }, experiments, A, { workers: 1, events: s.events })).rejects.toThrow(
      /holds a different study \(study\.json differs\); use a new --out folder/,
    );
    const otherExperiments = new Map(experiments).set('tiny-moe', { ...tinyMoe, batchSize: 8 });
    await expect(runStudy(study, otherExperiments, A, { workers: 1, events: s.events })).rejects.toThrow(/holds a different study/);
    expect(s.phases).toEqual([]);
    expect(s.started).toEqual([]);
    expect(readFileSync(join(A, STUDY_FILE), 'utf8')).toBe(studyJson);
  });
});

describe('shards and merge', () => {
  let shards2: string[];
  let M2: string;

  /** Every run of `a` is in `b` with an equal summary (but wall time) and metrics (but step times), and vice versa. */
  function expectSameRuns(a: string, b: string): void {
    expect(runNames(b)).toEqual(runNames(a));
    for (const n of runNames(a)) {
      expect(summaryOf(b, n), n).toEqual(summaryOf(a, n));
      expect(metricsOf(b, n), n).toEqual(metricsOf(a, n));
    }
  }

  async function runShards(count: number, tag: string): Promise<{ dirs: string[]; tuned: ReadonlyMap<string, number>[] }> {
    const dirs: string[] = [];
    const tuned: ReadonlyMap<string, number>[] = [];
    for (let index = 1; index <= count; index++) {
      const dir = join(root, `${tag}-${index}-of-${count}`);
      tuned.push((await runStudy(study, experiments, dir, { workers: 1, shard: { index, count } })).tuned);
      dirs.push(dir);
    }
    return { dirs, tuned };
  }

  beforeAll(async () => {
    shards2 = (await runShards(2, 'shard')).dirs;
    M2 = join(root, 'merged-2');
  });

  it('2 shards: each stress run in exactly one shard; merged folder ≡ unsharded folder; same report', () => {
    const stressOf = (dir: string) => runNames(dir).filter((n) => n.startsWith('stress__'));
    const all = stressOf(A);
    for (const n of all) expect(shards2.filter((d) => stressOf(d).includes(n)), n).toHaveLength(1);
    // Canonical order task → optimizer → …: with two tasks, shard 1 is the first task, shard 2 the second.
    expect(runNames(shards2[0]!).every((n) => n.includes('__tiny-mlp__'))).toBe(true);
    expect(runNames(shards2[1]!).every((n) => n.includes('__tiny-moe__'))).toBe(true);

    const r = mergeStudies(shards2, M2);
    expect(r).toEqual({ copied: TUNING_RUNS + STRESS_RUNS, duplicates: 0, unfinishedSkipped: 0 });
    expect(readFileSync(join(M2, STUDY_FILE), 'utf8')).toBe(readFileSync(join(A, STUDY_FILE), 'utf8'));
    expectSameRuns(A, M2);
    expect(renderReport(analyzeStudy(M2))).toBe(renderReport(analyzeStudy(A)));
    // Merging again (e.g. after adding a late shard) changes nothing: every run is a duplicate.
    expect(mergeStudies(shards2, M2)).toEqual({ copied: 0, duplicates: TUNING_RUNS + STRESS_RUNS, unfinishedSkipped: 0 });
    expectSameRuns(A, M2);
  });

  it('3 shards: groups split between shards are tuned by both, kept once, and tuned identically', async () => {
    const { dirs, tuned } = await runShards(3, 'shard3');
    // Stress positions [0,5) [5,10) [10,16): shard 2 spans tiny-mlp/muon (shared with shard 1) and
    // tiny-moe/adamw (shared with shard 3), so those 2 groups × 3 LRs × 2 seeds are tuned twice.
    expect(runNames(dirs[1]!).filter((n) => n.startsWith('tune__'))).toHaveLength(12);
    for (const t of tuned) for (const [key, lr] of t) expect(lr, key).toBe(tunedA.get(key));
    const M3 = join(root, 'merged-3');
    expect(mergeStudies(dirs, M3)).toEqual({ copied: TUNING_RUNS + STRESS_RUNS, duplicates: 12, unfinishedSkipped: 0 });
    expectSameRuns(A, M3);
    expect(renderReport(analyzeStudy(M3))).toBe(renderReport(analyzeStudy(A)));
  });

  it('refuses shards of different studies, and an output folder of another study', () => {
    const other = join(root, 'other-study');
    ensureDir(join(other, RUNS_DIR));
    writeJSONAtomic(join(other, STUDY_FILE), { spec: { ...study, name: 'other' }, experiments: Object.fromEntries(experiments) });
    const out = join(root, 'merge-refused');
    expect(() => mergeStudies([shards2[0]!, other], out)).toThrow(/belongs to a different study than .*study\.json differs/);
    expect(existsSync(out)).toBe(false);
    expect(() => mergeStudies([shards2[0]!], other)).toThrow(/already holds a different study/);
    expect(() => mergeStudies([join(root, 'nope')], out)).toThrow(/has no study\.json/);
    expect(() => mergeStudies([], out)).toThrow(/at least one/);
  });

  it('refuses a run whose config hash differs between shards', () => {
    const copy = join(root, 'shard-tampered');
    cpSync(shards2[0]!, copy, { recursive: true });
    const name = runNames(copy).find((n) => n.startsWith('tune__'))!;
    writeJSONAtomic(summaryPath(copy, name), { ...readJSON<RunSummary>(summaryPath(copy, name)), configHash: 'ffffffffffffffff' });
    expect(() => mergeStudies([shards2[0]!, copy], join(root, 'merge-hash'))).toThrow(
      new RegExp(`run ${name} differs between shards \\(config hash [0-9a-f]{16} vs ffffffffffffffff\\)`),
    );
  });
});

describe('inShard', () => {
  it('puts every position in exactly one shard, in contiguous blocks whose sizes differ by at most 1', () => {
    const pairs: [number, number][] = [[0, 1], [1, 1], [1, 3], [3, 5], [5, 2], [8, 3], [16, 3], [17, 4], [40, 6], [100, 7]];
    for (const [total, count] of pairs) {
      const owner: number[] = [];
      for (let p = 0; p < total; p++) {
        const holders = Array.from({ length: count }, (_, i) => i + 1).filter((index) => inShard(p, total, { index, count }));
        expect(holders, `position ${p} of ${total}, ${count} shards`).toHaveLength(1);
        owner.push(holders[0]!);
      }
      // Non-decreasing owner = contiguous blocks in shard order.
      for (let p = 1; p < total; p++) expect(owner[p]! >= owner[p - 1]!).toBe(true);
      const sizes = Array.from({ length: count }, (_, i) => owner.filter((o) => o === i + 1).length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
    expect(inShard(7, 10, undefined)).toBe(true);
  });
});

describe('tunedLr', () => {
  const summary = (p: Partial<RunSummary>): RunSummary =>
    fakeSummary({ optimizer: 'adamw', optimizerName: 'adamw', steps: 10, plannedSteps: 10, finalLoss: 1, minLoss: 1, initialLoss: 2.3, evalLoss: 1, wallSeconds: 0, ...p });
  const at = (lr: number, evals: (number | null)[], extra: Partial<RunSummary> = {}) =>
    evals.map((evalLoss, seed) => ({ lr, summary: summary({ evalLoss, seed, ...extra }) }));

  it('picks the LR with the best median (not mean) final eval loss', () => {
    const r = tunedLr([...at(0.1, [1.0, 1.2, 1.25]), ...at(0.01, [1.1, 1.1, 9])]);
    expect(r).toEqual({ lr: 0.01, score: 1.1 });
  });

  it('counts a diverged run as its initial loss, whatever its eval loss says', () => {
    const divergedLow = at(0.3, [0.2, 0.2, 0.9], { diverged: true });
    divergedLow[2]!.summary = summary({ evalLoss: 0.9 });
    // 0.3: losses [2.3, 2.3, 0.9] → median 2.3; 0.03: median 1.
    expect(tunedLr([...divergedLow, ...at(0.03, [1, 1, 1])])).toEqual({ lr: 0.03, score: 1 });
    // No eval (null) or a non-finite one also count as the initial loss.
    expect(tunedLr([...at(0.3, [null, null, 0.5]), ...at(0.03, [1, 1, 1])])).toEqual({ lr: 0.03, score: 1 });
    expect(tunedLr([...at(0.3, [NaN, Infinity, 0.5]), ...at(0.03, [1, 1, 1])])).toEqual({ lr: 0.03, score: 1 });
    // All diverged: every LR scores its initial loss; ties go to the smallest.
    expect(tunedLr([...at(1, [null, null], { diverged: true }), ...at(0.1, [null, null], { diverged: true })])).toEqual({ lr: 0.1, score: 2.3 });
  });

  it('scores a run without a finite initial loss (first loss NaN, stored as null) as +∞ instead of crashing', () => {
    // Regression: the +∞ fallback used to reach stats.median, which throws on non-finite values.
    const nullInit = { diverged: true, initialLoss: null };
    expect(tunedLr([...at(0.3, [null], nullInit), ...at(0.03, [50])])).toEqual({ lr: 0.03, score: 50 });
    // Even seed count: one +∞ among two makes the median +∞.
    expect(tunedLr([...at(0.01, [0.5, null], { initialLoss: null }), ...at(0.1, [0.9, 0.9])])).toEqual({ lr: 0.1, score: 0.9 });
    // Odd count: the median still ignores a single +∞.
    expect(tunedLr([...at(0.01, [0.5, 0.5, null], { initialLoss: null }), ...at(0.1, [0.9, 0.9, 0.9])])).toEqual({ lr: 0.01, score: 0.5 });
    // Nothing finite anywhere: still an answer (ties → the smallest LR), not an exception.
    expect(tunedLr([...at(1, [null], nullInit), ...at(0.1, [null], nullInit)])).toEqual({ lr: 0.1, score: Infinity });
  });

  it('breaks ties towards the smaller LR, whatever the input order', () => {
    const runs = [...at(0.5, [0.7, 0.8]), ...at(0.05, [0.8, 0.7]), ...at(0.2, [0.75, 0.75])];
    expect(tunedLr(runs)).toEqual({ lr: 0.05, score: 0.75 });
    expect(tunedLr([...runs].reverse())).toEqual({ lr: 0.05, score: 0.75 });
  });

  it('throws with no results', () => {
    expect(() => tunedLr([])).toThrow(/no tuning results/);
  });

  it('skips an LR whose tuning runs diverged in any seed, even when its median is the best', () => {
    // 0.1: one of five seeds diverged (→ 2.3), median of {0.2, 0.2, 0.25, 0.3, 2.3} = 0.25, the best;
    // 0.03: median 0.4, no divergence → tuned.
    const oneBlowUp = at(0.1, [0.2, 0.2, 0.25, 0.3, 0.1]);
    oneBlowUp[4]!.summary = summary({ evalLoss: 0.1, diverged: true, seed: 4 });
    const runs = [...oneBlowUp, ...at(0.03, [0.4, 0.4, 0.4, 0.5, 0.35]), ...at(0.01, [0.9, 0.9, 0.9, 0.9, 0.9])];
    const choice = chooseTunedLr(runs);
    expect(choice.best).toEqual({ lr: 0.1, score: 0.25 });
    expect(choice.tuned).toEqual({ lr: 0.03, score: 0.4 });
    expect(choice.noEligibleLr).toBe(false);
    expect(choice.grid.map((g) => [g.lr, g.diverged, g.eligible])).toEqual([
      [0.01, 0, true],
      [0.03, 0, true],
      [0.1, 1, false],
    ]);
    expect(tunedLr(runs)).toEqual(choice.tuned);
  });

  it('with no LR free of divergence, takes the best of those with the fewest diverged runs and says so', () => {
    const d = { diverged: true };
    // 0.3: 2 diverged (median 2.3); 0.1: 1 diverged, median 1.0; 0.03: 1 diverged, median 0.8 → 0.03.
    const runs = [
      ...at(0.3, [0.1, 0.1, 0.1]).map((r, i) => (i < 2 ? { ...r, summary: summary({ ...r.summary, ...d }) } : r)),
      ...at(0.1, [1.0, 1.0, 0.1]).map((r, i) => (i === 2 ? { ...r, summary: summary({ ...r.summary, ...d }) } : r)),
      ...at(0.03, [0.8, 0.8, 0.1]).map((r, i) => (i === 2 ? { ...r, summary: summary({ ...r.summary, ...d }) } : r)),
    ];
    const choice = chooseTunedLr(runs);
    expect(choice.noEligibleLr).toBe(true);
    expect(choice.tuned).toEqual({ lr: 0.03, score: 0.8 });
    expect(choice.best).toEqual({ lr: 0.03, score: 0.8 });
  });
});

describe('planTuning and planStress', () => {
  it('planTuning: grid × seeds per task and optimizer, lrScale = lr / base LR, the tuning horizon', () => {
    const plan = planTuning(study, experiments);
    expect(plan).toHaveLength(TUNING_RUNS);
    expect(new Set(plan.map((p) => p.dirName)).size).toBe(plan.length);
    for (const task of study.tasks) {
      const spec = experiments.get(task.experiment)!;
      for (const label of [study.baseline, study.treatment]) {
        for (const lr of study.tune.grid[label]!) {
          const mine = plan.filter((p) => p.task === task.experiment && p.label === label && p.lr === lr);
          expect(mine.map((p) => p.seed)).toEqual([...study.seeds]);
          for (const p of mine) {
            expect(p.phase).toBe('tune');
            expect(p.multiplier).toBe(1);
            expect(p.config.label).toBe(label);
            expect(p.config.seed).toBe(p.seed);
            expect(p.config.optimizer.name).toBe(spec.optimizers[label]!.name);
            expect(p.config.lrScale).toBe(lr / baseLr(spec, label));
            expect(p.config.lrScale * (spec.optimizers[label]!.options!['learningRate'] as number)).toBeCloseTo(lr, 12);
            expect(p.config.steps).toBe(study.tune.steps);
            expect(p.config.evalEvery).toBe(study.tune.steps);
            expect(p.config.batchSize).toBe(study.batchSize);
            expect(p.config.schedule).toEqual(spec.schedule); // tuning keeps the experiment's schedule
            expect(p.dirName).toBe(`tune__${task.experiment}__${label}__lr${lr}__s${p.seed}`);
          }
        }
      }
    }
    // The task's model override applies; the other task keeps its experiment's model.
    expect(plan.filter((p) => p.task === 'tiny-mlp').every((p) => JSON.stringify(p.config.model) === JSON.stringify({ kind: 'mlp', hidden: [8], activation: 'relu' }))).toBe(true);
    expect(plan.filter((p) => p.task === 'tiny-moe').every((p) => p.config.model.kind === 'moe')).toBe(true);
  });

  it('planStress: multipliers × seeds at a constant LR = tuned × multiplier over the stress horizon', () => {
    const tuning = new Set(planTuning(study, experiments).map((p) => p.dirName));
    const all: string[] = [];
    for (const task of study.tasks) {
      for (const label of [study.baseline, study.treatment]) {
        const tuned = study.tune.grid[label]![1]!;
        const base = baseLr(experiments.get(task.experiment)!, label);
        const plan = planStress(study, experiments, task, label, tuned);
        expect(plan).toHaveLength(study.stress.multipliers.length * study.seeds.length);
        for (const m of study.stress.multipliers) expect(plan.filter((p) => p.multiplier === m).map((p) => p.seed)).toEqual([...study.seeds]);
        for (const p of plan) {
          expect(p.phase).toBe('stress');
          expect(p.lr).toBe(tuned * p.multiplier);
          expect(p.config.lrScale).toBe((tuned * p.multiplier) / base);
          // The experiment's warm-up (tiny-mlp: cosine with warm-up 5; tiny-moe: none), then constant.
          const own = experiments.get(task.experiment)!.schedule;
          expect(p.config.schedule).toEqual(own.kind === 'cosine' ? { kind: 'constant', warmup: own.warmup } : { kind: 'constant' });
          expect(p.config.steps).toBe(study.stress.steps);
          expect(p.config.evalEvery).toBe(Math.max(1, Math.floor(study.stress.steps / 10)));
          expect(p.config.batchSize).toBe(study.batchSize);
          expect(p.dirName).toBe(`stress__${task.experiment}__${label}__x${p.multiplier}__s${p.seed}`);
          expect(tuning.has(p.dirName)).toBe(false);
          all.push(p.dirName);
        }
      }
    }
    expect(new Set(all).size).toBe(all.length);
    // The tiny-mlp spec's cosine schedule is replaced, not merged.
    expect(tinyMlp.schedule.kind).toBe('cosine');
  });

  it('baseLr needs options.learningRate and a known label', () => {
    expect(baseLr(tinyMlp, 'muon')).toBe(0.05);
    expect(() => baseLr(tinyMlp, 'sgd')).toThrow(/has no optimizer "sgd"/);
    expect(() => baseLr({ ...tinyMlp, optimizers: { adamw: { name: 'adamw' } } }, 'adamw')).toThrow(/must set options\.learningRate/);
  });
});

describe('a study with an arm: the third phase, shards and merge', () => {
  // One MoE task with the muon-match-rms arm: 12 tuning + 8 stress runs + the arm's 2 seeds at 1 or 2 multipliers.
  const armStudy: StudySpec = {
    ...study,
    name: 'tiny-arm-study',
    tasks: [{ experiment: 'tiny-moe', arms: ['muon-match-rms', 'qkNorm'] }],
    stress: { multipliers: [1, 8], steps: 12 },
  };
  let U: string;
  let unsharded: Awaited<ReturnType<typeof runStudy>>;
  beforeAll(async () => {
    U = join(root, 'arm-unsharded');
    unsharded = await runStudy(armStudy, experiments, U, { workers: 1 });
  });

  it('runs the arm at the multipliers derived from the stress runs, with its override, and nothing for a waiting arm', () => {
    const ms = unsharded.armMultipliers.get('tiny-moe')!;
    expect(ms.length).toBeGreaterThanOrEqual(1);
    const arms = runNames(U).filter((n) => n.startsWith('arm__'));
    expect(arms).toEqual(ms.flatMap((m) => [0, 1].map((seed) => `arm__tiny-moe__muon-match-rms__muon__x${m}__s${seed}`)).sort());
    expect(unsharded.arms).toHaveLength(arms.length);
    const adamwLr = unsharded.tuned.get('tiny-moe\u0000adamw')!;
    for (const p of unsharded.arms) {
      expect(p.config.optimizer.options['lrAdjust']).toBe('match_rms_adamw');
      // Moonlight: AdamW's tuned LR × multiplier on every group.
      expect(p.lr).toBeCloseTo(adamwLr * p.multiplier, 15);
      expect(p.config.lrScale * (p.config.optimizer.options['learningRate'] as number)).toBeCloseTo(adamwLr * p.multiplier, 12);
      expect(readJSON<RunSummary>(summaryPath(U, p.dirName)).lrScale).toBe(p.config.lrScale);
    }
    const r = analyzeStudy(U);
    expect(r.missing).toEqual([]);
    expect(r.arms.map((a) => [a.arm, a.multipliers])).toEqual([
      ['muon-match-rms', ms],
      ['qkNorm', []],
    ]);
    expect(renderReport(r)).toContain('| tiny-moe | qkNorm ');
  });

  it('2 and 3 shards, merged, equal the unsharded study (runs and report)', async () => {
    for (const count of [2, 3]) {
      const dirs: string[] = [];
      for (let index = 1; index <= count; index++) {
        const dir = join(root, `arm-shard-${index}-of-${count}`);
        await runStudy(armStudy, experiments, dir, { workers: 1, shard: { index, count } });
        dirs.push(dir);
      }
      const M = join(root, `arm-merged-${count}`);
      mergeStudies(dirs, M);
      expect(runNames(M)).toEqual(runNames(U));
      for (const n of runNames(U)) expect(summaryOf(M, n), n).toEqual(summaryOf(U, n));
      expect(renderReport(analyzeStudy(M))).toBe(renderReport(analyzeStudy(U)));
      // Each arm run was planned by exactly one shard.
      const armRuns = runNames(U).filter((n) => n.startsWith('arm__'));
      for (const n of armRuns) expect(dirs.filter((d) => runNames(d).includes(n)), n).toHaveLength(1);
    }
  });

  it('estimateStudy counts tuning, stress and (at most two multipliers of) arm runs, and its shards cover the study', () => {
    const all = estimateStudy(armStudy, experiments, { workers: 1 });
    expect(all.runs).toBe(12 + 8 + 2 * 2);
    expect(all.tune).toBeGreaterThan(0);
    expect(all.total).toBeCloseTo(all.tune + all.stress + all.arms, 12);
    const two = estimateStudy(armStudy, experiments, { workers: 2 });
    expect(two.total).toBeLessThan(all.total);
    const shards = [1, 2].map((index) => estimateStudy(armStudy, experiments, { workers: 1, shard: { index, count: 2 } }));
    expect(shards[0]!.runs + shards[1]!.runs).toBeGreaterThanOrEqual(all.runs);
  });
});
