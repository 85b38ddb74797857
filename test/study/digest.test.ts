/**
 * A run's digest (what the analysis reads of its records): bucket means to 4 digits, the steps of a
 * sparse field, spike events and the values at them, growth fits over the last half and balance
 * tenths at full precision; the spike mechanism's signal; the loss noise of the last half; and the
 * figures' trace of a digest.
 */
import { describe, expect, it } from 'vitest';
import { digestTrace } from '../../src/figures/traces.js';
import { CURVE_POINTS, digestRun, eventStarts, MIN_NOISE_STEPS, NOISE_WINDOW } from '../../src/study/digest.js';
import { Rng } from '../../src/data/rng.js';
import { logSlope } from '../../src/study/stats.js';
import type { StepRecord } from '../../src/train/loop.js';

const PLANNED = 1000;
/** 1000 steps: loss 1 + step/1000 (step 500 is a spike at 9), eval every 250 steps, MoE signals, grad norm e^{step/500}. */
const records: StepRecord[] = Array.from({ length: PLANNED }, (_, i) => {
  const step = i + 1;
  return {
    step,
    loss: step === 500 ? 9 : 1 + step / 1000,
    gradNorm: Math.exp(step / 500),
    updateRms: {},
    lr: 1,
    ms: 1,
    maxVio: step <= 100 ? 1 : 0.5,
    deadExperts: 0,
    ...(step % 250 === 0 ? { evalLoss: 3 - step / 1000 } : {}),
    ...(step === 500 || step === 501 ? { spikes: ['median'] } : step === 900 ? { spikes: ['zscore'] } : {}),
  };
});

describe('digestRun', () => {
  const d = digestRun(records, PLANNED);

  it('keeps the loss as bucket means of ⌈planned/CURVE_POINTS⌉ steps, to 4 significant digits, at implied steps', () => {
    expect(d.width).toBe(Math.ceil(PLANNED / CURVE_POINTS));
    const loss = d.curves['loss']!;
    expect(loss.means).toHaveLength(CURVE_POINTS);
    // Bucket 0: steps 1..10, the mean of 1.001 … 1.010, to 4 digits.
    expect(loss.means[0]).toBe(Number((1.0055).toPrecision(4)));
    // Bucket 49 holds step 500 (the spike): (Σ_{491..500} (1 + s/1000) − 1.5 + 9) / 10.
    const b49 = (Array.from({ length: 10 }, (_, k) => 1 + (491 + k) / 1000).reduce((a, b) => a + b, 0) - 1.5 + 9) / 10;
    expect(loss.means[49]).toBe(Number(b49.toPrecision(4)));
    expect(loss.steps).toBeUndefined();
    expect(loss.last).toBe(2);
  });

  it('keeps the steps of a sparse field (evaluations)', () => {
    const ev = d.curves['evalLoss']!;
    expect(ev.means.filter((x) => x !== null)).toEqual([2.75, 2.5, 2.25, 2]);
    expect(ev.steps!.filter((x) => x !== null)).toEqual([250, 500, 750, 1000]);
  });

  it('keeps every flagged step; events start where the step before was not flagged, with each field’s value there', () => {
    expect(d.flagged).toEqual([
      [500, ['median']],
      [501, ['median']],
      [900, ['zscore']],
    ]);
    expect(eventStarts(d.flagged).map(([s]) => s)).toEqual([500, 900]);
    expect(d.curves['loss']!.atEvents).toEqual([9, 1.9]);
    // The last evaluation at or before each event.
    expect(d.curves['evalLoss']!.atEvents).toEqual([2.5, 2.25]);
    expect(d.lastStep).toBe(PLANNED);
  });

  it('fits growth over the last half at full precision, and balance by tenths', () => {
    const late = records.filter((r) => r.step > PLANNED / 2);
    const fit = logSlope(
      late.map((r) => r.step),
      late.map((r) => r.gradNorm),
    )!;
    expect(d.growth['gradNorm']).toBe(fit.slope * 1000);
    expect(d.growth['gradNorm']).toBeCloseTo(2, 9);
    expect(d.positive).toEqual(['gradNorm']);
    expect(Object.keys(d.growth)).toEqual(['gradNorm']);
    expect(d.tenths['maxVio']).toEqual([1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    expect(d.tenths['deadExperts']).toEqual(Array<number>(10).fill(0));
    expect(d.tenths['routerMaxLogit']).toBeUndefined();
  });

  it('a diverged run: buckets up to its last step, its last finite value, and a null loss skipped', () => {
    const cut = [...records.slice(0, 333), { ...records[333]!, loss: null as unknown as number }];
    const dd = digestRun(cut, PLANNED);
    expect(dd.lastStep).toBe(334);
    expect(dd.curves['loss']!.means).toHaveLength(34);
    expect(dd.curves['loss']!.last).toBe(1.333);
    // Bucket 33 holds steps 331..333 only: its implied step is their centre.
    const t = digestTrace(7, dd, 'loss', true);
    expect(t.steps.at(-1)).toBe(332);
    expect(t.divergedAt).toBe(334);
    expect(t.lastValue).toBe(1.333);
  });
});

describe('the mechanism’s signal', () => {
  it('over the last half, and in the window of 50 steps ending 20 before each event that starts there', () => {
    const withShare = records.map((r) => ({ ...r, smallGradShare: { adamw: r.step >= 830 && r.step < 880 ? 0.9 : 0.2 } }));
    const m = digestRun(withShare, PLANNED).mechanism;
    expect(Object.keys(m)).toEqual(['adamw']);
    // Last half: steps 501..1000, 50 of them at 0.9.
    expect(m['adamw']!.mean).toBeCloseTo((50 * 0.9 + 450 * 0.2) / 500, 12);
    // The event at 500 starts at the half, not after it; the one at 900 has the window 830..879.
    expect(m['adamw']!.beforeEvents).toHaveLength(1);
    expect(m['adamw']!.beforeEvents[0]).toBeCloseTo(0.9, 12);
    expect(digestRun(records, PLANNED).mechanism).toEqual({});
  });
});

describe('the loss noise of the last half', () => {
  /** Losses 2·e^(σz) with z standard normal (seeded), over `steps`; `shape` multiplies step t's loss. */
  const noisy = (steps: number, sigma: number, shape: (step: number) => number = () => 1): StepRecord[] => {
    const rng = new Rng(7);
    return Array.from({ length: steps }, (_, i) => ({ step: i + 1, loss: shape(i + 1) * 2 * Math.exp(sigma * rng.normal()), gradNorm: 1, updateRms: {}, lr: 1, ms: 1 }));
  };

  it('σ of the log-rise over the 50-step median, robust to a spike; the spike is the largest rise', () => {
    const base = noisy(4000, 0.04);
    const n = digestRun(base, 4000).noise!;
    expect(n.steps).toBe(2000);
    expect(n.sigma).toBeGreaterThan(0.038);
    expect(n.sigma).toBeLessThan(0.042);
    expect(Math.abs(n.centre)).toBeLessThan(0.005);
    // Gaussian noise over 2000 steps: the largest rise is a few σ.
    expect(n.maxRise / n.sigma).toBeGreaterThan(2.5);
    expect(n.maxRise / n.sigma).toBeLessThan(4.5);
    // A spike to 1.5× at step 3000: the largest rise is ln 1.5 over the median before it; σ barely moves.
    const spiked = digestRun(base.map((r) => (r.step === 3000 ? { ...r, loss: 3 } : r)), 4000).noise!;
    const before = base.slice(3000 - 1 - NOISE_WINDOW, 3000 - 1).map((r) => r.loss).sort((a, b) => a - b);
    expect(spiked.maxRise).toBeCloseTo(Math.log(3 / ((before[24]! + before[25]!) / 2)), 3);
    expect(Math.abs(spiked.sigma - n.sigma)).toBeLessThan(0.0005);
  });

  it('centred below 0 on a falling curve (the median lags it); absent with too few steps; 0 for a loss that never moved', () => {
    const falling = digestRun(noisy(1000, 0.02, (t) => Math.exp(-t / 500)), 1000).noise!;
    // The median of the 50 losses before is ≈ 25 steps back: ln e^(−25/500) = −0.05.
    expect(falling.centre).toBeCloseTo(-0.05, 2);
    expect(digestRun(noisy(2 * (NOISE_WINDOW + MIN_NOISE_STEPS) - 2, 0.04), 2 * (NOISE_WINDOW + MIN_NOISE_STEPS) - 2).noise).toBeDefined();
    expect(digestRun(noisy(NOISE_WINDOW + MIN_NOISE_STEPS - 1, 0.04), 2 * NOISE_WINDOW).noise).toBeUndefined();
    expect(digestRun(noisy(200, 0), 200).noise).toEqual({ centre: 0, sigma: 0, maxRise: 0, steps: 100 });
  });
});

describe('digestTrace', () => {
  it('a point per bucket, spikes at the run’s own values, nothing for a field the run lacks', () => {
    const d = digestRun(records, PLANNED);
    const t = digestTrace(3, d, 'loss', false);
    expect(t.steps).toHaveLength(CURVE_POINTS);
    expect(t.steps[0]).toBe(5.5);
    expect(t.spikes).toEqual([
      { step: 500, detectors: ['median'], value: 9 },
      { step: 900, detectors: ['zscore'], value: 1.9 },
    ]);
    expect(t.divergedAt).toBeNull();
    const none = digestTrace(3, d, 'maxAttnLogit', false);
    expect(none.values).toEqual([]);
    expect(none.spikes.map((s) => s.value)).toEqual([null, null]);
  });
});
