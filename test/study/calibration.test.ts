/**
 * Detector calibration (src/study/calibration.ts): the plan (disjoint seeds, injections only in the
 * injected runs, the stress schedule), the scoring on synthetic signals whose spikes are known, and
 * the threshold and pre-registration rules.
 */
import { describe, expect, it } from 'vitest';
import {
  CALIBRATION_SEED_BASE,
  calibrationSeeds,
  candidateGrid,
  chooseThresholds,
  countEvents,
  defaultInjections,
  planCalibration,
  preRegister,
  scoreCalibration,
  scoreCandidate,
  type CalibrationSeries,
  type Candidate,
  type ScoreRow,
} from '../../src/study/calibration.js';
import { Rng } from '../../src/data/rng.js';
import type { Injection } from '../../src/train/inject.js';
import { injectionProblem } from '../../src/train/inject.js';
import type { StepSignal } from '../../src/train/spikes.js';
import { tinyLm } from '../train/fixtures.js';

describe('planCalibration', () => {
  const { clean, injected } = calibrationSeeds(2);
  const injections = defaultInjections(300);
  const plan = planCalibration({ spec: { ...tinyLm, schedule: { kind: 'cosine', warmup: 20, minFactor: 0.1 } }, labels: ['adamw', 'muon'], cleanSeeds: clean, injectedSeeds: injected, steps: 300, injections });

  it('plans every label × seed, clean and injected, with seeds no study uses', () => {
    expect(plan).toHaveLength(8);
    expect(new Set(plan.map((p) => p.dirName)).size).toBe(8);
    for (const p of plan) expect(p.seed).toBeGreaterThanOrEqual(CALIBRATION_SEED_BASE);
    expect(calibrationSeeds(3).clean.slice(0, 2)).toEqual(clean); // more seeds keep the earlier runs
    expect(calibrationSeeds(3).injected.slice(0, 2)).toEqual(injected);
    expect(clean.some((s) => injected.includes(s))).toBe(false);
  });

  it('injects only into the injected runs; clean configs carry no inject field', () => {
    for (const p of plan) {
      const isInjected = injected.includes(p.seed);
      expect(p.injections.length > 0).toBe(isInjected);
      expect('inject' in p.config).toBe(isInjected);
      if (isInjected) expect(p.config.inject).toEqual(injections);
      expect(p.config.steps).toBe(300);
      expect(p.config.label).toBe(p.label);
    }
  });

  it("runs the stress schedule: the experiment's warm-up, then a constant LR", () => {
    for (const p of plan) expect(p.config.schedule).toEqual({ kind: 'constant', warmup: 20 });
  });

  it('interleaves labels and sides seed by seed', () => {
    expect(plan.slice(0, 4).map((p) => `${p.label}/${p.seed}`)).toEqual([`adamw/${clean[0]}`, `adamw/${injected[0]}`, `muon/${clean[0]}`, `muon/${injected[0]}`]);
  });

  it('refuses a seed both clean and injected', () => {
    expect(() => planCalibration({ spec: tinyLm, labels: ['adamw'], cleanSeeds: [5], injectedSeeds: [5], steps: 300, injections })).toThrow(/both clean and injected/);
  });

  it('default injections alternate kinds, lie after the warm-ups and are valid', () => {
    expect(injections.map((i) => i.kind)).toEqual(['lr', 'batch', 'lr', 'batch']);
    expect(injections[0]!.step).toBe(120);
    expect(injectionProblem(injections, 300)).toBeUndefined();
  });
});

/** A noisy flat loss (±2 % uniform) and grad norm, with the given steps raised by `jump`× on both signals. */
function series(label: string, seed: number, steps: number, spikes: readonly Injection[], jump: number): CalibrationSeries {
  const rng = new Rng(seed);
  const signals: StepSignal[] = [];
  for (let step = 1; step <= steps; step++) {
    const hit = spikes.some((s) => s.step === step);
    const f = hit ? jump : 1;
    signals.push({ step, loss: 2 * (1 + 0.02 * (rng.next() - 0.5)) * f, gradNorm: (1 + 0.02 * (rng.next() - 0.5)) * f });
  }
  return { label, seed, injections: spikes, signals };
}

describe('scoring', () => {
  const injected: Injection[] = [
    { step: 120, kind: 'lr', factor: 10 },
    { step: 200, kind: 'batch' },
  ];

  it('counts consecutive flags as one event', () => {
    expect(countEvents([])).toBe(0);
    expect(countEvents([5, 6, 7, 20, 22])).toBe(3);
  });

  it('finds injections whose signal jumps, and none on clean flat runs', () => {
    const data = [series('a', 1, 300, [], 1), series('a', 2, 300, injected, 1.5)];
    const c: Candidate = { detector: 'median', setting: 'threshold 0.2', spec: { kind: 'rollingMedian', name: 'median', threshold: 0.2, minJump: 0 } };
    const row = scoreCandidate(c, data);
    expect(row.detection).toEqual({ detected: 2, injected: 2 });
    expect(row.byKind).toEqual({ lr: { detected: 1, injected: 1 }, batch: { detected: 1, injected: 1 } });
    expect(row.fpPer1kByLabel).toEqual({ a: 0 });
    expect(row.cleanSteps).toBe(300);
  });

  it('misses a jump below the threshold, and the 0.1 floor hides a small one', () => {
    const data = [series('a', 2, 300, injected, 1.04)];
    const loose: Candidate = { detector: 'zscore', setting: 'σ 3', spec: { kind: 'zscore', name: 'zscore', sigma: 3, minJump: 0 } };
    const floored: Candidate = { detector: 'zscore', setting: 'floored', spec: { kind: 'zscore', name: 'zscore', sigma: 3, minJump: 0.1 } };
    // A 4 % jump of a loss of 2 is 0.08: ≈ 7σ of this noise, but under the floor.
    expect(scoreCandidate(loose, data).detectionRate).toBe(1);
    expect(scoreCandidate(floored, data).detectionRate).toBe(0);
  });

  it('counts a flag only inside [k, k + window]', () => {
    // The spike is at k + 3 of a declared injection at k.
    const declared: Injection[] = [{ step: 117, kind: 'lr', factor: 10 }];
    const s = series('a', 2, 300, [{ step: 120, kind: 'lr', factor: 10 }], 1.5);
    const data = [{ ...s, injections: declared }];
    const c: Candidate = { detector: 'gradnorm', setting: 'z 5', spec: { kind: 'gradNormEma', name: 'gradnorm', z: 5 } };
    expect(scoreCandidate(c, data, 3).detectionRate).toBe(1);
    expect(scoreCandidate(c, data, 2).detectionRate).toBe(0);
  });

  it('skips injections a diverged run did not reach, and reports FP per label per 1k steps', () => {
    const short = series('a', 2, 150, injected, 1.5); // ends before the batch injection at 200
    const noisy = series('b', 3, 500, [{ step: 100, kind: 'batch' }, { step: 300, kind: 'batch' }], 1.5);
    const data = [short, { ...noisy, injections: [] }, series('a', 4, 1000, [], 1)];
    const c: Candidate = { detector: 'median', setting: 'threshold 0.2', spec: { kind: 'rollingMedian', name: 'median', threshold: 0.2, minJump: 0 } };
    const row = scoreCandidate(c, data);
    expect(row.detection).toEqual({ detected: 1, injected: 1 });
    expect(row.unreached).toBe(1);
    // Label b's clean run has two unannounced spikes in 500 steps: 4 per 1k; a's 1000 flat steps: 0.
    expect(row.fpPer1kByLabel).toEqual({ b: 4, a: 0 });
    expect(row.fpPer1k).toBe(4);
  });
});

const row = (detector: string, setting: string, detectionRate: number, fpPer1k: number, isDefault = false): ScoreRow => ({
  detector,
  setting,
  spec: { kind: 'gradNormEma', name: detector },
  ...(isDefault ? { isDefault } : {}),
  detection: { detected: 0, injected: 0 },
  detectionRate,
  unreached: 0,
  byKind: {},
  fpPer1kByLabel: {},
  fpPer1k,
  cleanSteps: 1000,
});

describe('threshold and pre-registration rules', () => {
  it('chooses the loosest setting within the FP budget, ignoring the v2 defaults', () => {
    const rows = [row('median', 't2', 0.2, 0), row('median', 't1', 0.5, 1), row('median', 't0.5', 0.9, 3), row('median', 'v2 default', 1, 0, true)];
    const [c] = chooseThresholds(rows);
    expect(c!.chosen.setting).toBe('t1');
    expect(c!.withinBudget).toBe(true);
  });

  it('returns the strictest, flagged, when no setting meets the budget', () => {
    const [c] = chooseThresholds([row('zscore', 's8', 0.5, 2), row('zscore', 's3', 1, 9)]);
    expect(c!.chosen.setting).toBe('s8');
    expect(c!.withinBudget).toBe(false);
    expect(preRegister([c!])).toBeUndefined();
  });

  it('pre-registers the best detection within budget; ties to lower FP, then the loss rules', () => {
    const choices = chooseThresholds([row('gradnorm', 'z5', 0.8, 0), row('median', 't1', 0.8, 0.5), row('zscore', 's5', 0.6, 0)]);
    expect(preRegister(choices)!.detector).toBe('gradnorm');
    const tied = chooseThresholds([row('gradnorm', 'z5', 0.8, 0), row('zscore', 's5', 0.8, 0)]);
    expect(preRegister(tied)!.detector).toBe('zscore');
  });

  it('the ladders run strictest first and score end to end on synthetic runs', () => {
    const grid = candidateGrid();
    for (const d of ['median', 'zscore', 'gradnorm']) {
      const ladder = grid.filter((c) => c.detector === d && !c.isDefault);
      expect(ladder.length).toBeGreaterThan(3);
    }
    const data = [series('a', 1, 300, [], 1), series('a', 2, 300, defaultInjections(300), 1.3)];
    const rows = scoreCalibration(data, grid);
    const choices = chooseThresholds(rows);
    expect(choices.map((c) => c.detector)).toEqual(['median', 'zscore', 'gradnorm']);
    // A 30 % jump over 2 % noise is found by every calibrated detector; the v2 loss default (2× the median) misses all.
    for (const c of choices) expect(c.chosen.detectionRate).toBe(1);
    expect(rows.find((r) => r.detector === 'median' && r.isDefault)!.detectionRate).toBe(0);
  });
});
