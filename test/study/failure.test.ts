/**
 * The failed endpoint, the multipliers arms run at, the arm overrides, and the wall-time model:
 * pure functions on hand-made summaries and configs.
 */
import { describe, expect, it } from 'vitest';
import { applyArm, ARM_NAMES, armLabels, armNeeds } from '../../src/study/arms.js';
import { estimateWallSeconds } from '../../src/study/cost.js';
import { armMultipliers, FAILURE_LOSS_FACTOR, failureReason, firstFailure, initialLossOf } from '../../src/study/failure.js';
import type { RunSummary } from '../../src/train/run.js';
import { fakeSummary, oneRun, tinyLm, tinyMoe } from '../train/fixtures.js';

const summary = (p: Partial<RunSummary>): RunSummary =>
  fakeSummary({ finalLoss: 0.2, minLoss: 0.1, initialLoss: 2.4, initialEvalLoss: 2.3, evalLoss: 0.2, ...p });
const ctx = { bestTunedLoss: 0.15, lossFactor: FAILURE_LOSS_FACTOR };

describe('failureReason', () => {
  it('diverged; worse than the eval loss at init; k × the best tuned loss; otherwise not failed', () => {
    expect(failureReason(summary({ diverged: true, divergedAtStep: 40, evalLoss: 0.1 }), ctx)).toBe('diverged');
    // The first full study's Muon MNIST runs at 8×: 4.55 against 2.30 at init, never "diverged".
    expect(failureReason(summary({ evalLoss: 4.55 }), ctx)).toBe('worse than init');
    expect(failureReason(summary({ evalLoss: 2.3 }), ctx)).toBe('worse than init');
    // At 4×: 2.0, below init, but 13× the best tuned 0.15 (k = 5 → threshold 0.75).
    expect(failureReason(summary({ evalLoss: 2.0 }), ctx)).toBe('k× best tuned');
    expect(failureReason(summary({ evalLoss: 0.75 }), ctx)).toBe('k× best tuned');
    expect(failureReason(summary({ evalLoss: 0.74 }), ctx)).toBeNull();
    expect(failureReason(summary({ evalLoss: 0.74 }), { ...ctx, lossFactor: 4 })).toBe('k× best tuned');
    expect(failureReason(summary({ evalLoss: null }), ctx)).toBe('no eval');
    // No best tuned loss known: only the other rules apply.
    expect(failureReason(summary({ evalLoss: 2.0 }), { ...ctx, bestTunedLoss: Infinity })).toBeNull();
  });

  it('falls back to the first training loss when a summary predates initialEvalLoss', () => {
    const old = summary({ evalLoss: 2.35 });
    delete (old as { initialEvalLoss?: number | null }).initialEvalLoss;
    expect(initialLossOf(old)).toBe(2.4);
    expect(failureReason(old, { ...ctx, lossFactor: 100 })).toBeNull(); // 2.35 < 2.4
    expect(initialLossOf(summary({ initialEvalLoss: null, initialLoss: null }))).toBeNull();
  });
});

describe('firstFailure and armMultipliers', () => {
  const runs = (failed: number, n = 5) => Array.from({ length: n }, (_, i) => summary({ seed: i, evalLoss: i < failed ? 9 : 0.2 }));
  it('is the smallest multiplier where at least half the runs failed', () => {
    expect(firstFailure(new Map([[1, runs(0)], [2, runs(2)], [4, runs(3)], [8, runs(5)]]), ctx)).toBe(4);
    // Order of the map does not matter; exactly half counts (2 of 4).
    expect(firstFailure(new Map([[8, runs(4)], [2, runs(2, 4)], [1, runs(1)]]), ctx)).toBe(2);
    expect(firstFailure(new Map([[1, runs(0)], [2, runs(1)]]), ctx)).toBeNull();
    expect(firstFailure(new Map([[1, []]]), ctx)).toBeNull();
  });
  it('takes both optimizers\' first failures, once each, or the largest multiplier when neither fails', () => {
    expect(armMultipliers([4, 2], [1, 2, 4, 8])).toEqual([2, 4]);
    expect(armMultipliers([2, 2], [1, 2, 4, 8])).toEqual([2]);
    expect(armMultipliers([null, 8], [1, 2, 4, 8])).toEqual([8]);
    expect(armMultipliers([null, null], [1, 2, 4, 8])).toEqual([8]);
  });
});

describe('arms', () => {
  it('the attention mitigations need a transformer and say so; every arm runs on the LM', () => {
    expect(ARM_NAMES.filter((a) => armNeeds(a, 'moe') === undefined)).toEqual(['none', 'bf16', 'fp4', 'muon-match-rms', 'wsd']);
    for (const a of ['qkNorm', 'zLoss', 'qkClip'] as const) expect(armNeeds(a, 'mlp')).toMatch(/attention/);
    expect(ARM_NAMES.filter((a) => armNeeds(a, 'transformer') !== undefined)).toEqual([]);
    expect(() => applyArm(oneRun(tinyMoe, 'adamw'), 'qkClip', 1)).toThrow(/arm qkClip needs attention.*"moe"/);
    expect(armLabels('muon-match-rms', 'adamw', 'muon')).toEqual(['muon']);
    expect(armLabels('qkNorm', 'adamw', 'muon')).toEqual(['adamw', 'muon']);
  });

  it("muon-match-rms: lrAdjust 'match_rms_adamw', the internal AdamW at the main LR, the given LR scale", () => {
    const config = oneRun(tinyMoe, 'muon');
    const out = applyArm(config, 'muon-match-rms', 0.25);
    expect(out.optimizer.options['lrAdjust']).toBe('match_rms_adamw');
    expect(out.optimizer.options['learningRate']).toBe(config.optimizer.options['learningRate']);
    expect((out.optimizer.options['adamw'] as Record<string, unknown>)['learningRate']).toBe(config.optimizer.options['learningRate']);
    expect(out.lrScale).toBe(0.25);
    // Nothing else changes, and the input is not mutated.
    expect({ ...out, optimizer: config.optimizer, lrScale: config.lrScale }).toEqual(config);
    expect(config.optimizer.options['lrAdjust']).toBeUndefined();
    // The none arm only sets the scale.
    expect(applyArm(config, 'none', 3)).toEqual({ ...config, lrScale: 3 });
    // Precision arms set the run's simulated precision and nothing else.
    expect(applyArm(config, 'bf16', 2)).toEqual({ ...config, lrScale: 2, precision: { weights: 'bf16', activations: 'bf16' } });
    expect(applyArm(config, 'fp4', 2)).toEqual({ ...config, lrScale: 2, precision: { weights: 'mxfp4', activations: 'fp8' } });
  });

  it('the LM arms: qk-norm and the output z-loss on the model, QK-clip on the run, WSD keeping the warm-up', () => {
    const config = { ...oneRun(tinyLm, 'muon'), schedule: { kind: 'constant' as const, warmup: 7 } };
    expect(config.model.kind).toBe('transformer');
    if (config.model.kind !== 'transformer') return;
    expect(config.model.qkNorm).toBe(false);
    expect(config.model.outputZLossCoef).toBe(0);
    expect(applyArm(config, 'qkNorm', 2)).toEqual({ ...config, lrScale: 2, model: { ...config.model, qkNorm: true } });
    // PaLM / Wortsman et al.'s coefficient (docs/references.md#transformer-instabilities).
    expect(applyArm(config, 'zLoss', 2)).toEqual({ ...config, lrScale: 2, model: { ...config.model, outputZLossCoef: 1e-4 } });
    // Kimi K2's τ = 100, α = 0.5 (docs/references.md#transformer-instabilities); with Muon this is MuonClip.
    expect(applyArm(config, 'qkClip', 2)).toEqual({ ...config, lrScale: 2, qkClip: { threshold: 100, alpha: 0.5 } });
    expect(applyArm(config, 'wsd', 2)).toEqual({ ...config, lrScale: 2, schedule: { kind: 'wsd', warmup: 7, decayFraction: 0.2, minFactor: 0 } });
  });
});

describe('estimateWallSeconds', () => {
  it("is the makespan of the pool's longest-first schedule, with the 2-worker contention factor", () => {
    // 5 → w0, 4 → w1, 3 → w1 (7), 3 → w0 (8): makespan 8, × 1.07 for two busy cores.
    expect(estimateWallSeconds([3, 5, 3, 4], 2)).toBeCloseTo(8 * 1.07, 12);
    expect(estimateWallSeconds([3, 5, 3, 4], 1)).toBe(15);
    expect(estimateWallSeconds([10, 1, 1], 4)).toBeCloseTo(10 * 1.07, 12);
    expect(estimateWallSeconds([], 2)).toBe(0);
    expect(estimateWallSeconds([2], 2)).toBe(2);
  });
});
