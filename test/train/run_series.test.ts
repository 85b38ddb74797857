/**
 * Series of saved runs (train/run_dirs runSeries): runs that differ only in their seed form one
 * series, named by optimizer and the LR it ran with; tasks, LRs, precisions and a study's arms are
 * never pooled. Configs are taken from real run folders' shape (a study's stress and arm runs).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { tf } from '../../src/tf.js';
import type { RunConfig } from '../../src/train/config.js';
import { runSeries, type LoadedRun } from '../../src/train/run_dirs.js';

const base = {
  experiment: 'lm-moe',
  label: 'adamw',
  optimizer: { name: 'adamw', options: { learningRate: 0.003, weightDecay: 0.01 }, lrSource: "stress: 8× the study's tuned LR" },
  lrScale: 0.8 / 0.003,
  data: { kind: 'brown' },
  model: { kind: 'mlp', hidden: [8], activation: 'relu' },
  steps: 30,
  batchSize: 4,
  evalEvery: 3,
  evalSize: 16,
  schedule: { kind: 'constant', warmup: 5 },
  seed: 0,
  detectors: [{ kind: 'zscore', name: 'zscore' }],
  divergenceFactor: 4,
  precision: { weights: 'fp32', activations: 'fp32' },
  qkClip: null,
} as unknown as RunConfig;

const muon = {
  ...base,
  label: 'muon',
  optimizer: { name: 'muon', options: { learningRate: 0.02, adamw: { learningRate: 0.003 } }, lrSource: 'x' },
  lrScale: 400,
} as unknown as RunConfig;

let n = 0;
const run = (config: RunConfig, over: Partial<Record<keyof RunConfig, unknown>> = {}): LoadedRun => ({
  dir: `/runs/r${n++}`,
  config: { ...config, ...over } as RunConfig,
  summary: undefined,
  metrics: [],
});

describe('runSeries', () => {
  beforeAll(async () => {
    await initBackend();
  });

  it('pools only seeds, and names a series by optimizer and the LR it used (not a multiple of the spec LR)', () => {
    const series = runSeries([run(base, { seed: 0 }), run(base, { seed: 1 }), run(muon, { seed: 0 }), run(muon, { seed: 1 })]);
    expect(series.map((s) => [s.label, s.runs.length])).toEqual([
      ['adamw lr 0.8', 2],
      ['muon lr 8', 2],
    ]);
    expect(series.every((s) => s.variant === '' && s.setting === '')).toBe(true);
    expect(series.map((s) => s.lr)).toEqual([0.8, 8].map((x) => expect.closeTo(x, 9)));
  });

  it('builds each optimizer only to read its learning rates, leaving no tensor behind', () => {
    const before = tf.memory().numTensors;
    runSeries([run(base), run(muon)]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names an optimizer that is not registered here with an unknown LR instead of failing', () => {
    const other = { ...base, label: 'mine', optimizer: { name: 'not-registered', options: { learningRate: 0.1 } } } as unknown as RunConfig;
    const [s] = runSeries([run(other)]);
    expect(s!.label).toBe('mine lr ?');
    expect(s!.lr).toBeUndefined();
  });

  it('never pools runs of different tasks or LRs, even under the same label and scale', () => {
    const series = runSeries([
      run(base),
      run(base, { experiment: 'lm-brown' }),
      run(base, { lrScale: 0.1 / 0.003 }),
      // The same LR reached another way (spec LR × scale) is the same series.
      run(base, { optimizer: { ...base.optimizer, options: { learningRate: 0.8, weightDecay: 0.01 } }, lrScale: 1, seed: 1 }),
    ]);
    expect(series.map((s) => [s.experiment, s.label, s.runs.length])).toEqual([
      ['lm-moe', 'adamw lr 0.1', 1],
      ['lm-moe', 'adamw lr 0.8', 2],
      ['lm-brown', 'adamw lr 0.8', 1],
    ]);
  });

  it("names a study arm's runs by what their config changes, and leaves the common setting unnamed", () => {
    const runs = [
      run(base),
      run(muon),
      run(base, { qkClip: { threshold: 100, alpha: 0.5 } }),
      run(muon, { schedule: { kind: 'wsd', warmup: 5, decayFraction: 0.2, minFactor: 0 } }),
      run(base, { precision: { weights: 'mxfp4', activations: 'fp8' } }),
      run(muon, { optimizer: { ...muon.optimizer, options: { ...muon.optimizer.options, lrAdjust: 'match_rms_adamw' } } }),
      run(base, { steps: 10, evalEvery: 10, schedule: { kind: 'cosine', minFactor: 0.1 } }),
    ];
    const labels = runSeries(runs).map((s) => s.label);
    expect(labels).toEqual([
      'adamw lr 0.8',
      'muon lr 8',
      'adamw lr 0.8 · 10 steps · cosine schedule',
      'adamw lr 0.8 · fp4',
      'muon lr 8 · lrAdjust match_rms_adamw',
      'adamw lr 0.8 · qkClip',
      'muon lr 8 · wsd schedule',
    ]);
    // AdamW's weight decay is compared with AdamW's runs only: Muon's runs do not "lack" it.
    expect(labels.some((l) => /weightDecay/.test(l))).toBe(false);
  });

  it('names a quiet difference only when nothing else tells two series apart', () => {
    const labels = runSeries([run(base), run(base, { evalEvery: 10 }), run(base, { evalEvery: 10, seed: 1 })]).map((s) => s.label);
    // The evaluation cadence alone sets the second series apart, so it is named; the first is the common setting.
    expect(labels).toEqual(['adamw lr 0.8', 'adamw lr 0.8 · eval every 10']);
    // With a louder difference as well, the cadence stays out of the name.
    const loud = runSeries([run(base), run(base, { evalEvery: 10, steps: 60 })]).map((s) => s.label);
    expect(loud).toEqual(['adamw lr 0.8', 'adamw lr 0.8 · 60 steps']);
  });
});
