import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { Rng } from '../../src/data/rng.js';
import type { RunConfig } from '../../src/train/config.js';
import { train, type StepRecord } from '../../src/train/loop.js';
import {
  countSpikes,
  createDetector,
  DEFAULT_DETECTORS,
  DETECTOR_DEFAULTS_DOC,
  describeDetector,
  SpikeTracker,
  type DetectorSpec,
  type StepSignal,
} from '../../src/train/spikes.js';
import { oneRun, tinyLm } from './fixtures.js';

/** A smooth decaying loss with 3 % Gaussian noise, and a grad norm with 5 % noise. */
function noisyCurve(seed: number, steps = 1000): StepSignal[] {
  const rng = new Rng(seed);
  const out: StepSignal[] = [];
  for (let step = 1; step <= steps; step++) {
    const loss = (0.1 + 2 * Math.exp(-step / 200)) * (1 + 0.03 * rng.normal());
    const gradNorm = (1 + Math.exp(-step / 100)) * (1 + 0.05 * rng.normal());
    out.push({ step, loss, gradNorm });
  }
  return out;
}

/** Multiplies loss and grad norm by `factor` for `length` steps from each of `at` (1-based steps). */
function inject(signals: StepSignal[], at: readonly number[], factor = 4, length = 1): StepSignal[] {
  const hit = new Set(at.flatMap((s) => Array.from({ length }, (_, i) => s + i)));
  return signals.map((s) => (hit.has(s.step) ? { ...s, loss: s.loss * factor, gradNorm: s.gradNorm * factor } : s));
}

const SPIKES = [150, 300, 303, 520, 800, 960];

describe('spike detectors on synthetic curves', () => {
  it('each default detector finds exactly the injected spikes, at the injected steps', () => {
    for (const seed of [1, 2, 3]) {
      const signals = inject(noisyCurve(seed), SPIKES);
      const tracker = new SpikeTracker(DEFAULT_DETECTORS);
      const flaggedAt: Record<string, number[]> = { median: [], zscore: [], gradnorm: [] };
      for (const s of signals) for (const name of tracker.observe(s)) flaggedAt[name]!.push(s.step);
      expect(flaggedAt).toEqual({ median: SPIKES, zscore: SPIKES, gradnorm: SPIKES });
      for (const c of Object.values(tracker.counts())) expect(c).toEqual({ events: 6, flaggedSteps: 6, firstStep: 150 });
    }
  });

  it('flags nothing on clean noisy curves (false-positive check over seeds)', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const counts = countSpikes(DEFAULT_DETECTORS, noisyCurve(seed, 3000));
      for (const c of Object.values(counts)) expect(c).toEqual({ events: 0, flaggedSteps: 0, firstStep: null });
    }
  });

  it('counts a multi-step spike once', () => {
    const counts = countSpikes(DEFAULT_DETECTORS, inject(noisyCurve(4), [400], 4, 3));
    for (const c of Object.values(counts)) expect(c).toEqual({ events: 1, flaggedSteps: 3, firstStep: 400 });
  });

  it('keeps flagged values out of the statistics, so back-to-back spikes are all caught', () => {
    // Spikes every other step: if each entered the window, the median/std would climb and mask later ones.
    const at = Array.from({ length: 10 }, (_, i) => 500 + 2 * i);
    const counts = countSpikes(DEFAULT_DETECTORS, inject(noisyCurve(5), at));
    for (const c of Object.values(counts)) expect(c.events).toBe(10);
  });

  it('never flags non-finite values and keeps them out of the statistics', () => {
    const signals = noisyCurve(6).map((s) =>
      s.step % 97 === 0 ? { ...s, loss: Number.NaN, gradNorm: Number.POSITIVE_INFINITY } : s,
    );
    signals[599] = { step: 600, loss: Number.POSITIVE_INFINITY, gradNorm: Number.NaN };
    const clean = countSpikes(DEFAULT_DETECTORS, signals);
    for (const c of Object.values(clean)) expect(c.events).toBe(0);
    const spiked = countSpikes(DEFAULT_DETECTORS, inject(signals, [601]));
    for (const c of Object.values(spiked)) expect(c).toEqual({ events: 1, flaggedSteps: 1, firstStep: 601 });
  });

  it('countSpikes equals the online SpikeTracker counts', () => {
    const signals = inject(noisyCurve(7), [200, 201, 450, 700], 3);
    const tracker = new SpikeTracker(DEFAULT_DETECTORS);
    for (const s of signals) tracker.observe(s);
    expect(countSpikes(DEFAULT_DETECTORS, signals)).toEqual(tracker.counts());
  });

  it('the grad-norm detector catches a grad-norm jump with a flat loss; the loss detectors do not', () => {
    const signals = noisyCurve(8).map((s) => ({
      ...s,
      loss: 0.5,
      gradNorm: s.step === 333 || s.step === 666 ? s.gradNorm * 3 : s.gradNorm,
    }));
    const counts = countSpikes(DEFAULT_DETECTORS, signals);
    expect(counts.gradnorm).toEqual({ events: 2, flaggedSteps: 2, firstStep: 333 });
    expect(counts.median!.events).toBe(0);
    expect(counts.zscore!.events).toBe(0);
  });

  it('does not flag during warm-up', () => {
    const signals = inject(noisyCurve(9), [10]);
    for (const c of Object.values(countSpikes(DEFAULT_DETECTORS, signals))) expect(c.events).toBe(0);
  });

  it('restarts from a lasting level shift instead of flagging it forever', () => {
    const specs: DetectorSpec[] = [{ kind: 'rollingMedian', name: 'm', window: 30, warmup: 10 }];
    const signals = noisyCurve(10, 600).map((s) => (s.step > 300 ? { ...s, loss: s.loss * 10 } : s));
    expect(countSpikes(specs, signals).m).toEqual({ events: 1, flaggedSteps: 30, firstStep: 301 });
  });

  it('reset() clears the statistics', () => {
    const d = createDetector({ kind: 'zscore', window: 10, warmup: 5 });
    for (let step = 1; step <= 10; step++) d.observe({ step, loss: 1 + 0.01 * (step % 3), gradNorm: 1 });
    expect(d.observe({ step: 11, loss: 5, gradNorm: 1 })).toBe(true);
    d.reset();
    expect(d.observe({ step: 12, loss: 5, gradNorm: 1 })).toBe(false);
  });

  it('validates specs and names', () => {
    expect(() => createDetector({ kind: 'rollingMedian', window: 10, warmup: 20 })).toThrow(/warmup/);
    expect(() => createDetector({ kind: 'gradNormEma', alpha: 1 })).toThrow(/alpha/);
    expect(() => new SpikeTracker([{ kind: 'zscore' }, { kind: 'zscore' }])).toThrow(/duplicate/);
    expect(DEFAULT_DETECTORS.map((s) => createDetector(s).name)).toEqual(['median', 'zscore', 'gradnorm']);
    expect(DETECTOR_DEFAULTS_DOC.split('\n').every((l) => l.startsWith('- '))).toBe(true);
  });
});

describe('describeDetector', () => {
  it('states each rule with its settings resolved: defaults filled in, a floor only when there is one', () => {
    expect(DEFAULT_DETECTORS.map(describeDetector)).toEqual([
      'median: loss above the median of the last 50 losses by more than 2× that median and loss − median > 0.1 (flags after 20)',
      'zscore: (loss − mean) / std > 7 over the last 100 losses and loss − mean > 0.1 (flags after 50)',
      'gradnorm: grad-norm z-score > 5 against an EMA mean and variance (α = 0.97, 25 warm-up steps)',
    ]);
    expect(describeDetector({ kind: 'zscore', name: 'z3', sigma: 3, window: 60, minJump: 0 })).toBe(
      'z3: (loss − mean) / std > 3 over the last 60 losses, no absolute floor (flags after 50)',
    );
  });
});

describe('the absolute floor (minJump)', () => {
  it('ignores heavy-tailed wiggles near zero loss that relative rules alone would flag', () => {
    const rng = new Rng(21);
    // A classifier trained to ~0.005: lognormal minibatch losses, often 5–10× the median, never 0.1 above it.
    const signals = Array.from({ length: 1000 }, (_, i) => ({
      step: i + 1,
      loss: 0.005 * Math.exp(0.8 * rng.normal()),
      gradNorm: 1 + 0.05 * rng.normal(),
    }));
    const floored = countSpikes(DEFAULT_DETECTORS, signals);
    expect(floored['median']!.events).toBe(0);
    expect(floored['zscore']!.events).toBe(0);
    const unfloored = countSpikes(
      [
        { kind: 'rollingMedian', name: 'median', minJump: 0 },
        { kind: 'zscore', name: 'zscore', minJump: 0 },
      ],
      signals,
    );
    expect(unfloored['median']!.events).toBeGreaterThan(10);
  });

  it('still flags a jump of more than 0.1 at low loss', () => {
    const rng = new Rng(22);
    const signals = Array.from({ length: 300 }, (_, i) => ({
      step: i + 1,
      loss: i + 1 === 250 ? 0.5 : 0.01 * (1 + 0.1 * rng.normal()),
      gradNorm: 1,
    }));
    const counts = countSpikes(DEFAULT_DETECTORS, signals);
    expect(counts['median']).toEqual({ events: 1, flaggedSteps: 1, firstStep: 250 });
    expect(counts['zscore']).toEqual({ events: 1, flaggedSteps: 1, firstStep: 250 });
  });
});

describe('detectors only observe', () => {
  beforeAll(async () => {
    await initBackend();
  });

  /** Every record without its wall time, and the outcome without its wall time. */
  async function trained(config: RunConfig) {
    const records: Omit<StepRecord, 'ms'>[] = [];
    const { wallSeconds: _w, ...outcome } = await train(config, {
      onRecord: ({ ms: _ms, ...r }) => records.push(JSON.parse(JSON.stringify(r)) as Omit<StepRecord, 'ms'>),
    });
    return { records, outcome };
  }

  it('a run trains the same numbers whichever detectors count its spikes (a study may set them per task)', async () => {
    const config = oneRun(tinyLm, 'muon', 0, { steps: 12 });
    // Loose enough to flag within 12 steps, so the two runs' flags differ.
    const loose: DetectorSpec[] = [
      { kind: 'rollingMedian', name: 'median', threshold: 1e-4, minJump: 0, warmup: 2 },
      { kind: 'gradNormEma', name: 'gradnorm', z: 0.01, warmup: 2 },
    ];
    const a = await trained({ ...config, detectors: DEFAULT_DETECTORS });
    const b = await trained({ ...config, detectors: loose });
    expect(b.records.filter((r) => r.spikes).length).toBeGreaterThan(0);
    const unflagged = (rs: typeof a.records) => rs.map(({ spikes: _s, ...r }) => r);
    expect(unflagged(b.records)).toEqual(unflagged(a.records));
    // Routing names carry tf.js's per-process layer counter (transformer1, transformer2), not a number of the run.
    const { spikes: _sa, routing: _ra, ...restA } = a.outcome;
    const { spikes: _sb, routing: _rb, ...restB } = b.outcome;
    expect(restB).toEqual(restA);
  });
});
