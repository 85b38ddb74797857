/**
 * The training loop end to end on tiny configs: learning, determinism, per-step records, MoE
 * statistics, divergence stopping, and no tensor leaks.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { tf } from '../../src/tf.js';
import { train, type StepRecord } from '../../src/train/loop.js';
import { executeRun } from '../../src/train/run.js';
import { readJSON, readMetrics } from '../../src/train/run_files.js';
import { lrFactor } from '../../src/train/schedule.js';
import type { RunSummary } from '../../src/train/run.js';
import { oneRun, tempDir, tinyMlp, tinyMoe } from './fixtures.js';

const dirs: string[] = [];
beforeAll(async () => {
  await initBackend();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function records(config: Parameters<typeof train>[0]) {
  const recs: StepRecord[] = [];
  const outcome = await train(config, { onRecord: (r) => recs.push(r) });
  return { recs, outcome };
}

/** Records without wall time, which is the one field allowed to differ between identical runs. */
const timeless = (recs: StepRecord[]) => recs.map(({ ms: _ms, ...rest }) => rest);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('train on the MNIST MLP', () => {
  it('lowers the loss, and one record per step carries step, loss, gradNorm, updateRms, lr, ms', async () => {
    const config = oneRun(tinyMlp, 'muon');
    const { recs, outcome } = await records(config);
    expect(recs.map((r) => r.step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(outcome.records).toBe(30);
    expect(outcome.stepsCompleted).toBe(30);
    expect(outcome.diverged).toBe(false);
    const losses = recs.map((r) => r.loss);
    expect(losses[0]!).toBeGreaterThan(2); // ≈ ln 10 at init
    expect(mean(losses.slice(-5))).toBeLessThan(0.7 * mean(losses.slice(0, 5)));
    expect(outcome.finalLoss).toBeCloseTo(mean(losses.slice(-10)), 6);
    expect(outcome.minLoss).toBe(Math.min(...losses));
    expect(outcome.initialLoss).toBe(losses[0]);
    for (const r of recs) {
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.gradNorm).toBeGreaterThan(0);
      expect(Object.keys(r.updateRms).sort()).toEqual(['adamw', 'muon']);
      expect(r.updateRms['muon']!).toBeGreaterThan(0);
      expect(r.updateRms['adamw']!).toBeGreaterThan(0);
      // lr = base LR × schedule factor (cosine, warm-up 5, min 0.1).
      expect(r.lr).toBeCloseTo(0.05 * lrFactor(config.schedule, r.step, 30), 8);
      expect(r.ms).toBeGreaterThan(0);
      expect(r.expertLoad).toBeUndefined();
      expect(r.auxLoss).toBeUndefined();
    }
    // Evaluation every 10 steps (and at the end), with accuracy on a classification task.
    expect(recs.filter((r) => r.evalLoss !== undefined).map((r) => r.step)).toEqual([10, 20, 30]);
    expect(recs[29]!.evalAcc!).toBeGreaterThan(0.3);
    expect(outcome.evalLoss).toBe(recs[29]!.evalLoss);
    expect(outcome.evalAcc).toBe(recs[29]!.evalAcc);
    // Hidden kernel on Muon; head and biases on its internal AdamW.
    expect(Object.values(outcome.routing).sort()).toEqual(['adamw', 'adamw', 'adamw', 'muon']);
    expect(outcome.parameters).toBe(784 * 32 + 32 + 32 * 10 + 10);
  });

  it('evaluates once before the first update: initialEvalLoss ≈ ln 10, the same for every optimizer and LR', async () => {
    const a = (await records(oneRun(tinyMlp, 'muon', 3, { steps: 2 }))).outcome;
    const b = (await records({ ...oneRun(tinyMlp, 'adamw', 3, { steps: 4 }), lrScale: 50 })).outcome;
    const other = (await records(oneRun(tinyMlp, 'adamw', 4, { steps: 2 }))).outcome;
    // Same seed → same initial weights, whatever the optimizer and LR; a small random init predicts ~uniformly.
    expect(a.initialEvalLoss).toBe(b.initialEvalLoss);
    expect(other.initialEvalLoss).not.toBe(a.initialEvalLoss);
    expect(a.initialEvalLoss).toBeGreaterThan(Math.log(10) - 0.5);
    expect(a.initialEvalLoss).toBeLessThan(Math.log(10) + 0.5);
    // It is an evaluation, not a training step: 2 steps still make 2 records, and the first
    // minibatch loss is a different number.
    expect(a.records).toBe(2);
    expect(a.initialEvalLoss).not.toBe(a.initialLoss);
  });

  it('AdamW records one update group', async () => {
    const { recs } = await records(oneRun(tinyMlp, 'adamw', 0, { steps: 3 }));
    for (const r of recs) expect(Object.keys(r.updateRms)).toEqual(['adamw']);
  });

  it('is deterministic: the same seed gives identical records, another seed different ones', async () => {
    const a = await records(oneRun(tinyMlp, 'muon', 5, { steps: 12 }));
    const b = await records(oneRun(tinyMlp, 'muon', 5, { steps: 12 }));
    const c = await records(oneRun(tinyMlp, 'muon', 6, { steps: 12 }));
    expect(timeless(b.recs)).toEqual(timeless(a.recs));
    expect(b.outcome.finalLoss).toBe(a.outcome.finalLoss);
    expect(b.outcome.evalLoss).toBe(a.outcome.evalLoss);
    const la = a.recs.map((r) => r.loss);
    const lc = c.recs.map((r) => r.loss);
    expect(lc).not.toEqual(la);
    expect(lc[0]).not.toBe(la[0]); // different initialisation and first batch
  });
});

describe('train on the MoE', () => {
  it('records balance statistics every step', async () => {
    const config = oneRun(tinyMoe, 'muon', 0, { steps: 15 });
    const { recs, outcome } = await records(config);
    expect(recs).toHaveLength(15);
    for (const r of recs) {
      const load = r.expertLoad as number[]; // one MoE layer: a flat row
      expect(load).toHaveLength(4);
      expect(load.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      for (const l of load) expect(l).toBeGreaterThanOrEqual(0);
      const meanLoad = 0.25;
      expect(r.maxVio!).toBeCloseTo((Math.max(...load) - meanLoad) / meanLoad, 5);
      expect(r.loadCv!).toBeGreaterThanOrEqual(0);
      expect(r.deadExperts).toBe(load.filter((l) => l === 0).length);
      expect(r.routerMaxLogit!).toBeGreaterThan(0);
      expect(r.zLoss!).toBeGreaterThan(0);
      // auxLoss = 1e-2 · balance + 1e-3 · z-loss (defaults).
      const bal = (r as unknown as { balanceLoss: number }).balanceLoss;
      expect(r.auxLoss!).toBeCloseTo(1e-2 * bal + 1e-3 * r.zLoss!, 6);
      expect(Object.keys(r.updateRms).sort()).toEqual(['adamw', 'muon']);
      expect(r.evalAcc).toBeUndefined();
    }
    expect(outcome.evalAcc).toBeNull();
    expect(outcome.evalLoss).not.toBeNull();
    // The router stays on AdamW by default; routerOnMuon moves it.
    const routerVar = Object.keys(outcome.routing).find((n) => n.endsWith('/router/kernel'))!;
    expect(outcome.routing[routerVar]).toBe('adamw');
    const onMuon = await train({ ...config, steps: 1, optimizer: { ...config.optimizer, routerOnMuon: true } });
    const routerVar2 = Object.keys(onMuon.routing).find((n) => n.endsWith('/router/kernel'))!;
    expect(onMuon.routing[routerVar2]).toBe('muon');
  });

  it('is deterministic for the MoE too', async () => {
    const a = await records(oneRun(tinyMoe, 'adamw', 3, { steps: 8 }));
    const b = await records(oneRun(tinyMoe, 'adamw', 3, { steps: 8 }));
    expect(timeless(b.recs)).toEqual(timeless(a.recs));
  });
});

describe('divergence', () => {
  it('a huge learning rate is marked diverged, stops early and still writes summary.json', async () => {
    const config = oneRun(tinyMlp, 'adamw', 0, { steps: 30, lr: { '*': 1e3 } });
    expect(config.optimizer.options['learningRate']).toBe(1e3);
    const dir = tempDir('diverge');
    dirs.push(dir);
    const summary = await executeRun(config, dir);
    expect(summary.diverged).toBe(true);
    expect(summary.interrupted).toBe(false);
    expect(summary.steps).toBeLessThan(30);
    expect(summary.divergedAtStep).toBe(summary.steps);
    const onDisk = readJSON<RunSummary>(join(dir, 'summary.json'));
    expect(onDisk.diverged).toBe(true);
    expect(onDisk.divergedAtStep).toBe(summary.steps);
    const metrics = readMetrics<StepRecord>(join(dir, 'metrics.jsonl'));
    expect(metrics).toHaveLength(summary.steps);
    const last = metrics[metrics.length - 1]!;
    // Non-finite or more than divergenceFactor (4) × the first loss.
    expect(last.loss === null || last.loss > 4 * metrics[0]!.loss).toBe(true);
    // finalLoss of a diverged run is its last loss (null when non-finite), not a mean.
    expect(summary.finalLoss).toBe(last.loss === null ? null : last.loss);
    expect(existsSync(join(dir, 'config.json'))).toBe(true);
  });
});

describe('memory', () => {
  it('leaks no tensors: none left after a run, and no growth between step 10 and step 100', async () => {
    for (const [spec, label] of [
      [tinyMlp, 'muon'],
      [tinyMoe, 'muon'],
    ] as const) {
      // Small batch and width: 100 steps must stay quick on the cpu backend too.
      const base = oneRun(spec, label, 0, { steps: 100 });
      const model = base.model.kind === 'mlp' ? { ...base.model, hidden: [16] } : base.model;
      const config = { ...base, model, batchSize: 8, evalEvery: 25 };
      const before = tf.memory().numTensors;
      const samples: Record<number, number> = {};
      await train(config, {
        onRecord: (r) => {
          if (r.step === 10 || r.step === 100) samples[r.step] = tf.memory().numTensors;
        },
      });
      expect(samples[10]).toBeGreaterThan(before); // the model and optimizer state are live
      expect(samples[100], `${config.experiment}: tensors at step 100 vs 10`).toBe(samples[10]);
      expect(tf.memory().numTensors, `${config.experiment}: tensors after the run`).toBe(before);
    }
  });
});
