/**
 * The report's exploratory sections for study v3's phases, on a hand-made study whose numbers are
 * known in advance (no training): the stress ladder's failure shares and where it stopped, the long
 * horizon's medians and exact p-values, the width trend's shifts and slope, the positive control's
 * spike counts; the protocol's per-task seeds, ladder and long horizon; and none of it in a study
 * without the phases.
 */
import { readFileSync, rmSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { full } from '../../experiments/studies/stability-v3.js';
import { loadStudyExperiments } from '../../src/catalog/experiments.js';
import { analyzeCells } from '../../src/study/analyze.js';
import { collectCells } from '../../src/study/cells.js';
import type { StudyRun } from '../../src/study/collect.js';
import { hodgesLehmann } from '../../src/study/exact.js';
import { ladderResults } from '../../src/study/ladder_section.js';
import { longHorizon, widthVariant } from '../../src/study/long_width.js';
import { digestRun, halfOf } from '../../src/study/digest.js';
import { longDirName, stressDirName, validateStudy, type StudySpec } from '../../src/study/protocol.js';
import { seedList } from '../../src/study/protocol_section.js';
import { calibratedSpec, calibrationResult, scoreCalibration, type CalibrationSeries } from '../../src/study/calibration.js';
import type { Injection } from '../../src/train/inject.js';
import { Rng } from '../../src/data/rng.js';
import type { PrimaryEndpoint } from '../../src/study/verdict.js';
import { renderReport } from '../../src/study/report.js';
import type { StudyResults } from '../../src/study/results.js';
import { slopeRange, slopeWeights } from '../../src/study/width_section.js';
import type { ExperimentSpec } from '../../src/train/config.js';
import type { StepRecord } from '../../src/train/loop.js';
import type { RunSummary } from '../../src/train/run.js';
import { writeStudyPages } from '../../src/figures/pages.js';
import { fakeSummary, tempDir, tinyLm, tinyMlp } from '../train/fixtures.js';

const INIT = 4.4;
const summary = (p: Partial<RunSummary>): RunSummary => fakeSummary({ initialLoss: INIT, initialEvalLoss: INIT, spikes: { median: 0 }, ...p });
const diverged = (p: Partial<RunSummary> = {}) => summary({ diverged: true, divergedAtStep: 10, steps: 10, evalLoss: null, ...p });

const experiments: ReadonlyMap<string, ExperimentSpec> = new Map([
  ['tiny-mlp', tinyMlp],
  ['tiny-lm', tinyLm],
  ['tiny-lm-d8', { ...tinyLm, name: 'tiny-lm-d8' }],
  ['tiny-lm-d32', { ...tinyLm, name: 'tiny-lm-d32' }],
]);
const LADDER_SEEDS = [0, 1, 2, 3];
const WIDTH_SEEDS = [0, 1, 2, 3, 4];
/** tiny-lm counts spikes with settings of its own (as v3's LM tasks do with their calibrated ones). */
const lmTask = { experiment: 'tiny-lm', seeds: LADDER_SEEDS, width: { of: 'tiny-lm', dModel: 16 }, detectors: [calibratedSpec('median', 0.07), calibratedSpec('gradnorm', 6)] } as const;
const spec: StudySpec = {
  name: 'v3-sections',
  description: 'test fixture',
  tasks: [
    lmTask,
    widthVariant({ experiment: 'tiny-lm' }, tinyLm.model, 8, { seeds: WIDTH_SEEDS, multipliers: [1] }),
    widthVariant({ experiment: 'tiny-lm' }, tinyLm.model, 32, { seeds: WIDTH_SEEDS, multipliers: [1] }),
    { experiment: 'tiny-mlp', fixedLr: true, multipliers: [1], seeds: [0, 1, 2], stressSteps: 100 },
  ],
  baseline: 'adamw',
  treatment: 'muon',
  seeds: [0, 1],
  tune: { grid: { adamw: [1e-3, 1e-2], muon: [0.01, 0.1] }, steps: 5 },
  stress: { multipliers: [1], steps: 100, ladder: { cap: 8 } },
  failureProgressShare: 0.5,
  long: { tasks: ['tiny-lm'], multipliers: [1], seeds: [5, 6, 7, 8], tokensPerActiveParam: 0.5 },
};

/** Ladder: failed runs (diverged) of 4 per rung; AdamW first fails at 2×, Muon at 4×, so rungs 1, 2, 4 ran. */
const LADDER_FAILS: Record<string, Record<number, number>> = { adamw: { 1: 0, 2: 2, 4: 4 }, muon: { 1: 0, 2: 1, 4: 2 } };
/** Width: final eval losses of AdamW; Muon's are AdamW's + the width's shift, so the Hodges–Lehmann shift is exactly it. */
const ADAMW_LOSS = [2.0, 2.01, 2.02, 2.03, 2.04];
const SHIFT: Record<number, number> = { 8: -0.1, 16: -0.25, 32: -0.3 };
/** Long horizon: AdamW one late median spike per run, Muon none; Muon's seed 8 diverges. */
const LONG_LOSS: Record<string, number[]> = { adamw: [2.0, 2.1, 2.2, 2.3], muon: [1.5, 1.6, 1.7, NaN] };
/** Control: AdamW's median-detector spike events per seed over 100 steps; Muon none. */
const CONTROL_SPIKES = [2, 0, 4];

const longSteps = longHorizon(spec, experiments, lmTask).steps;
/** AdamW's one late spike in each long run: at the last step, so that the mechanism's window before it (steps e − 70 … e − 21) holds some steps. */
const LONG_SPIKE_AT = longSteps;

/** Mechanism: AdamW's share of small-gradient coordinates, high in the window before its spike. */
const SHARE = { before: 0.5, else: 0.1 };

/** Per-step records over `steps`, the median detector flagging `flagged`; AdamW's share high in the window before each (50 steps ending 20 before). */
const records = (steps: number, flagged: readonly number[]): StepRecord[] =>
  Array.from({ length: steps }, (_, i) => ({
    step: i + 1,
    loss: 2,
    gradNorm: 1,
    updateRms: {},
    lr: 1,
    ms: 1,
    smallGradShare: { adamw: flagged.some((f) => i + 1 >= f - 70 && i + 1 < f - 20) ? SHARE.before : SHARE.else },
    ...(flagged.includes(i + 1) ? { spikes: ['median'] } : {}),
  }));

function runs(): Map<string, StudyRun> {
  const out = new Map<string, StudyRun>();
  const add = (name: string, s: RunSummary, metrics?: StepRecord[]) => out.set(name, { name, summary: s, digest: metrics ? digestRun(metrics, s.plannedSteps) : undefined });
  for (const label of ['adamw', 'muon']) {
    for (const [m, fails] of Object.entries(LADDER_FAILS[label]!)) {
      LADDER_SEEDS.forEach((seed, i) =>
        add(stressDirName('tiny-lm', label, Number(m), seed), i < fails ? diverged() : summary({ evalLoss: Number(m) === 1 ? ADAMW_LOSS[i]! + (label === 'muon' ? SHIFT[16]! : 0) : 2.1 })),
      );
    }
    for (const d of [8, 32]) {
      WIDTH_SEEDS.forEach((seed, i) => add(stressDirName(`tiny-lm-d${d}`, label, 1, seed), summary({ evalLoss: ADAMW_LOSS[i]! + (label === 'muon' ? SHIFT[d]! : 0) })));
    }
    spec.long!.seeds.forEach((seed, i) => {
      const loss = LONG_LOSS[label]![i]!;
      const s = Number.isNaN(loss) ? diverged({ plannedSteps: longSteps }) : summary({ evalLoss: loss, steps: longSteps, plannedSteps: longSteps, spikes: { median: label === 'adamw' ? 1 : 0 } });
      add(longDirName('tiny-lm', label, 1, seed), s, records(s.steps, label === 'adamw' ? [LONG_SPIKE_AT] : []));
    });
    [0, 1, 2].forEach((seed, i) => {
      const k = label === 'adamw' ? CONTROL_SPIKES[i]! : 0;
      add(stressDirName('tiny-mlp', label, 1, seed), summary({ spikes: { median: k, gradnorm: k > 0 ? 1 : 0 } }));
    });
  }
  return out;
}

const analyze = (s: StudySpec, found: ReadonlyMap<string, StudyRun>) => analyzeCells(collectCells({ spec: s, experiments: Object.fromEntries(experiments), runs: found }));

/** The text of one `## ` section of a report. */
function section(text: string, title: string): string {
  const start = text.indexOf(`## ${title}\n`);
  expect(start, title).toBeGreaterThanOrEqual(0);
  const end = text.indexOf('\n## ', start + 3);
  return text.slice(start, end < 0 ? undefined : end);
}

let r: StudyResults;
let text: string;
beforeAll(() => {
  r = analyze(spec, runs());
  text = renderReport(r);
});

describe('stress ladder', () => {
  it('per rung and optimizer the failed share; stopped once both failed in half their runs', () => {
    const [l] = r.phases.ladder;
    expect(r.phases.ladder).toHaveLength(1);
    expect(l!.rungs.map((g) => [g.multiplier, g.byLabel['adamw'], g.byLabel['muon']])).toEqual([
      [1, { failed: 0, n: 4 }, { failed: 0, n: 4 }],
      [2, { failed: 2, n: 4 }, { failed: 1, n: 4 }],
      [4, { failed: 4, n: 4 }, { failed: 2, n: 4 }],
    ]);
    expect(l).toMatchObject({ task: 'tiny-lm', cap: 8, firstFailure: { adamw: 2, muon: 4 }, stop: 'both failed', next: null });
    const s = section(text, 'Stress ladder');
    expect(s).toContain('**Exploratory**');
    expect(s).toContain('| tiny-lm | 1×, 2×, 4× | 1× 0% (0/4) · 2× 50% (2/4) · 4× 100% (4/4) | 1× 0% (0/4) · 2× 25% (1/4) · 4× 50% (2/4) | both failed in ≥ half their runs (adamw from 2×, muon from 4×)');
  });

  it('unfinished when a rung has runs missing; at the cap when an optimizer never failed', () => {
    const found = runs();
    found.delete(stressDirName('tiny-lm', 'muon', 4, 3));
    expect(ladderResults(collectCells({ spec, experiments: Object.fromEntries(experiments), runs: found }))[0]).toMatchObject({ stop: 'unfinished', next: 4 });
    // Muon never fails: its failing runs at 2× and 4× replaced by good ones, and rung 8× run too.
    const capped = runs();
    for (const m of [2, 4, 8]) for (const seed of LADDER_SEEDS) capped.set(stressDirName('tiny-lm', 'muon', m, seed), { name: '', summary: summary({}), digest: undefined });
    for (const seed of LADDER_SEEDS) capped.set(stressDirName('tiny-lm', 'adamw', 8, seed), { name: '', summary: diverged(), digest: undefined });
    const c = analyze(spec, capped);
    expect(c.phases.ladder[0]).toMatchObject({ stop: 'cap', next: null, firstFailure: { adamw: 2, muon: null } });
    expect(c.phases.ladder[0]!.rungs.map((g) => g.multiplier)).toEqual([1, 2, 4, 8]);
    expect(section(renderReport(c), 'Stress ladder')).toContain('at the cap 8×: muon never failed in half its runs');
  });
});

describe('long horizon', () => {
  it('per optimizer the runs, divergences, medians; exact rank-sum p-values, unadjusted', () => {
    const [c] = r.phases.long;
    expect(r.phases.long).toHaveLength(1);
    const h = longHorizon(spec, experiments, lmTask);
    expect(c).toMatchObject({ task: 'tiny-lm', multiplier: 1, steps: h.steps, tokens: h.tokens, detectors: ['median'] });
    expect(c!.byLabel['adamw']).toMatchObject({ n: 4, diverged: 0 });
    expect(c!.byLabel['muon']).toMatchObject({ n: 4, diverged: 1 });
    expect(c!.byLabel['adamw']!.finalEvalLoss!.median).toBeCloseTo(2.15, 12);
    expect(c!.byLabel['muon']!.finalEvalLoss!.median).toBeCloseTo(1.6, 12);
    // One spike event in the last half of every AdamW run: 1000 / (steps − half) per 1k steps.
    expect(c!.byLabel['adamw']!.lateSpikes['median']!.median).toBeCloseTo(1000 / (h.steps - halfOf(h.steps)), 9);
    expect(c!.byLabel['muon']!.lateSpikes['median']!.median).toBe(0);
    // Final eval loss: Muon {1.5, 1.6, 1.7, 4.4 (diverged: its initial loss)} vs AdamW {2.0, …, 2.3}: U = 4 of 16 pairs;
    // P(U ≤ 4) = 12/70 at 4 vs 4 without ties, two-sided 24/70.
    expect(c!.finalEvalP).toBeCloseTo(24 / 70, 12);
    // Late spikes: 3 Muon zeros against 4 equal AdamW rates, complete separation: 2/C(7,3).
    expect(c!.lateSpikesP['median']).toBeCloseTo(2 / 35, 12);
    const s = section(text, 'Long horizon');
    expect(s).toContain('**Exploratory**');
    expect(s).toMatch(new RegExp(`\\| tiny-lm +\\| 1× +\\| ${h.steps} \\(${h.tokens}; [\\d.]+/param\\) +\\| muon +\\| 4 +\\| 1 +\\| 1\\.6 +\\| 0 +\\|`));
    expect(s).toMatch(/\| exact p, unadjusted +\|[ |]+\| 0\.3429 +\| 0\.05714 +\|/);
  });

  it('every detector the runs recorded, the rolling median first, each with its p', () => {
    // Muon's non-diverged long runs also flag one grad-norm step at the last step; AdamW's record none.
    const found = runs();
    for (const [name, run] of found) {
      if (!name.startsWith('long__') || run.summary.diverged) continue;
      const muon = name.split('__')[2] === 'muon';
      const steps = run.summary.steps;
      const recs = records(steps, muon ? [] : [steps]).map((x) => (muon && x.step === steps ? { ...x, spikes: ['gradnorm'] } : x));
      found.set(name, { ...run, summary: { ...run.summary, spikes: { ...run.summary.spikes, gradnorm: muon ? 1 : 0 } }, digest: digestRun(recs, steps) });
    }
    const [c] = analyze(spec, found).phases.long;
    expect(c!.detectors).toEqual(['median', 'gradnorm']);
    const half = 1000 / (longSteps - halfOf(longSteps));
    expect(c!.byLabel['muon']!.lateSpikes['gradnorm']!.median).toBeCloseTo(half, 9);
    expect(c!.byLabel['adamw']!.lateSpikes['gradnorm']!.median).toBe(0);
    // 3 Muon runs at one rate against 4 AdamW zeros: 2/C(7,3), as for the median detector the other way round.
    expect(c!.lateSpikesP).toEqual({ median: expect.closeTo(2 / 35, 12), gradnorm: expect.closeTo(2 / 35, 12) });
    const s = section(renderReport(analyze(spec, found)), 'Long horizon');
    expect(s).toContain('| late spikes/1k (median), median | late spikes/1k (gradnorm), median |');
  });
});

describe('width trend', () => {
  it('per width the Hodges–Lehmann shift; the slope on log2(width) with its projected interval', () => {
    const [w] = r.phases.width;
    expect(w!.of).toBe('tiny-lm');
    expect(w!.points.map((p) => [p.dModel, p.nTreatment, p.nBaseline])).toEqual([
      [8, 5, 5],
      [16, 4, 4],
      [32, 5, 5],
    ]);
    for (const p of w!.points) expect(p.shift!.estimate).toBeCloseTo(SHIFT[p.dModel]!, 12);
    // log2 widths 3, 4, 5: the middle one has weight 0 and the slope is (Δ32 − Δ8)/2 per doubling.
    expect(w!.slope).toBeCloseTo((SHIFT[32]! - SHIFT[8]!) / 2, 12);
    expect(w!.points[1]!.joint).toBeNull();
    // The ends' intervals at 1 − 0.05/2 each; the slope's interval is the box's extreme combinations.
    const at = (d: number) => {
      const b = ADAMW_LOSS;
      return hodgesLehmann(b.map((x) => x + SHIFT[d]!), b, 0.975);
    };
    expect(w!.lo).toBeCloseTo((at(32).lo - at(8).hi) / 2, 12);
    expect(w!.hi).toBeCloseTo((at(32).hi - at(8).lo) / 2, 12);
    expect(Number.isFinite(w!.lo) && w!.lo < w!.slope! && w!.slope! < w!.hi).toBe(true);
    expect(w!.confidence).toBeCloseTo(at(8).confidence * at(32).confidence, 12);
    expect(w!.confidence).toBeGreaterThanOrEqual(0.95);
    const s = section(text, 'Width trend');
    expect(s).toContain('**Exploratory**: sub-claim (h)');
    expect(s).toContain('a trend estimate, not a test');
    expect(s).toMatch(/\| tiny-lm +\| 16 +\| 4 \/ 4 +\| -0\.25 \[-0\.28, -0\.22\] +\| weight 0 +\|/);
    expect(s).toContain(`Slope per doubling of width: -0.1 [`);
  });

  it('least-squares weights and the projected range on unequal spacing', () => {
    const w = slopeWeights([0, 1, 3])!;
    expect(w.map((x) => x * 14)).toEqual([-4, -1, 5].map((x) => expect.closeTo(x, 12)));
    // y = 2x + 1 exactly: slope 2; intervals ±1 around each value widen it by Σ|w| each way.
    const ys = [1, 3, 7].map((estimate) => ({ estimate, lo: estimate - 1, hi: estimate + 1 }));
    const range = slopeRange(w, ys);
    expect(range.slope).toBeCloseTo(2, 12);
    expect(range.lo).toBeCloseTo(2 - 10 / 14, 12);
    expect(range.hi).toBeCloseTo(2 + 10 / 14, 12);
    expect(slopeWeights([5, 5])).toBeNull();
    // An unbounded interval makes the slope's unbounded on that side.
    expect(slopeRange([-0.5, 0.5], [{ estimate: 0, lo: -Infinity, hi: 1 }, { estimate: 1, lo: 0, hi: 2 }])).toEqual({ slope: 0.5, lo: -0.5, hi: Infinity });
  });
});

describe('positive control', () => {
  it('per optimizer and detector: spikes/1k median [min–max] over seeds and the seeds with a spike', () => {
    const median = r.phases.control.filter((x) => x.detector === 'median');
    expect(median.map((x) => [x.label, x.n, x.spikesPer1k.median, x.spikesPer1k.min, x.spikesPer1k.max, x.withSpike])).toEqual([
      ['adamw', 3, 20, 0, 40, 2],
      ['muon', 3, 0, 0, 0, 0],
    ]);
    expect(r.phases.control.map((x) => x.detector)).toEqual(['gradnorm', 'gradnorm', 'median', 'median']);
    expect(median[0]!.lr).toBe(tinyMlp.optimizers['adamw']!.options?.learningRate);
    const s = section(text, 'Positive control');
    expect(s).toContain('**Exploratory**: a check that the spike detectors fire where adamw is known to spike');
    expect(s).toMatch(/\| tiny-mlp \| 1× +\| median +\| adamw +\| [\d.e-]+ \| 3 +\| 0 +\| 20 \[0–40\] +\| 66\.67% \(2\/3\) +\| 2\.1 \[2\.1–2\.1\] +\|/);
    // Both reach the same loss level.
    expect(median.map((x) => x.finalEvalLoss?.median)).toEqual([2.1, 2.1]);
    expect(s).toContain("- tiny-mlp at 1×: the optimizers' final eval losses overlap: the spike rates compare runs at the same loss level.");
  });

  it('says when the loss levels do not overlap', () => {
    const found = runs();
    for (const seed of [0, 1, 2]) {
      const name = stressDirName('tiny-mlp', 'muon', 1, seed);
      found.set(name, { ...found.get(name)!, summary: summary({ evalLoss: 3 + seed }) });
    }
    const s = section(renderReport(analyze(spec, found)), 'Positive control');
    expect(s).toContain("- tiny-mlp at 1×: the optimizers' final eval losses do not overlap: the optimizer that stays higher may avoid the spikes by not reaching their regime.");
  });
});

describe("Second-moment spike mechanism", () => {
  it('per task, phase, optimizer and group: the share over the run, before each spike event, and their difference', () => {
    const long = r.phases.mechanism.filter((x) => x.phase === 'long');
    expect(long.map((x) => [x.label, x.group, x.runs, x.events, x.above])).toEqual([
      ['adamw', 'adamw', 4, 4, 4],
      // Muon's seed 8 diverged at step 10, before the half: no last-half share.
      ['muon', 'adamw', 3, 0, 0],
    ]);
    const a = long[0]!;
    // The window (steps e − 70 … e − 21) lies before the half here, the run's mean is the last half's: the share elsewhere.
    expect(LONG_SPIKE_AT - 21).toBeLessThanOrEqual(halfOf(longSteps));
    const mean = SHARE.else;
    expect(a.runMean.median).toBeCloseTo(mean, 12);
    expect(a.before!.median).toBeCloseTo(SHARE.before, 12);
    expect(a.excess!.median).toBeCloseTo(SHARE.before - mean, 12);
    expect(long[1]!.before).toBeNull();
    const s = section(text, "Second-moment spike mechanism");
    expect(s).toContain('**Exploratory**');
    expect(s).toMatch(/\| tiny-lm +\| long +\| adamw +\| adamw +\| 4 +\| [\d.]+ \[[\d.]+–[\d.]+\] +\| 4 +\| 0\.5 \[0\.5–0\.5\] +\| [\d.]+ \[[\d.]+–[\d.]+\] +\| 100% \(4\/4\) +\|/);
  });
});

describe('spike detector against the loss noise', () => {
  /** The fixture's long horizon made long enough to measure noise over its last half (≥ 150 steps). */
  const noiseSpec: StudySpec = { ...spec, long: { ...spec.long!, tokensPerActiveParam: 4 } };
  const steps = longHorizon(noiseSpec, experiments, lmTask).steps;
  /** The long runs over `steps`, losses 2·e^(σz) with σ by optimizer; AdamW's one flag at the last step, Muon's seed 8 diverged. */
  const SIGMA: Record<string, number> = { adamw: 0.02, muon: 0.04 };
  const withNoise = (): Map<string, StudyRun> => {
    const found = runs();
    const rng = new Rng(3);
    for (const [name, run] of found) {
      if (!name.startsWith('long__') || run.summary.diverged) continue;
      const label = name.split('__')[2]!;
      const noisy = records(steps, label === 'adamw' ? [steps] : []).map((x) => ({ ...x, loss: 2 * Math.exp(SIGMA[label]! * rng.normal()) }));
      found.set(name, { ...run, summary: { ...run.summary, steps, plannedSteps: steps }, digest: digestRun(noisy, steps) });
    }
    return found;
  };
  const late: PrimaryEndpoint = { subClaim: 'a', task: 'tiny-lm', arm: 'none', multipliers: [1], metric: 'late spikes/1k', detector: 'median', supportsWhen: 'treatment-lower', test: 'rank-sum', phase: 'long' };

  it('per long-horizon cell and optimizer: σ, the threshold in σ, Gaussian flags, the largest rise; only for a relative-only median rule', () => {
    expect(steps).toBeGreaterThanOrEqual(150);
    const n = analyze(noiseSpec, withNoise());
    // The stress runs have no records here: the long-horizon cell only.
    expect(n.phases.noise.map((x) => [x.phase, x.multiplier, x.label, x.runs])).toEqual([
      ['long', 1, 'adamw', 4],
      ['long', 1, 'muon', 3],
    ]);
    for (const x of n.phases.noise) {
      const sigma = SIGMA[x.label]!;
      expect(x.sigma.median / sigma).toBeGreaterThan(0.75);
      expect(x.sigma.median / sigma).toBeLessThan(1.25);
      expect(x.logThreshold).toBeCloseTo(Math.log(1.07), 12);
      expect(x.thresholdInSigma.median / (Math.log(1.07) / sigma)).toBeGreaterThan(0.75);
      expect(x.thresholdInSigma.median / (Math.log(1.07) / sigma)).toBeLessThan(1.25);
    }
    // 1.7σ for muon: noise crosses it often; 3.4σ for adamw: rarely.
    const [adamw, muon] = n.phases.noise;
    expect(muon!.gaussianFlagsPer1k.median).toBeGreaterThan(20);
    expect(adamw!.gaussianFlagsPer1k.median).toBeLessThan(5);
    expect(adamw!.lateSpikesPer1k.median).toBeCloseTo(1000 / (steps - halfOf(steps)), 9);
    expect(muon!.lateSpikesPer1k.median).toBe(0);
    const s = section(renderReport(n), 'Spike detector against the loss noise');
    expect(s).toContain('a post-hoc check, added after the long-horizon runs were seen. It decides no verdict');
    expect(s).toMatch(/\| tiny-lm +\| long +\| 1× +\| muon +\| 3 +\| 0\.0\d+ \[/);
    // A median rule with the absolute floor (the defaults): not checked.
    const floored = analyze({ ...noiseSpec, tasks: noiseSpec.tasks.map((t) => (t.experiment === 'tiny-lm' ? { ...t, detectors: undefined } : t)) }, withNoise());
    expect(floored.phases.noise).toEqual([]);
    expect(renderReport(floored)).not.toContain('## Spike detector against the loss noise');
  });

  it('a note under the verdicts for each pre-registered spike endpoint, saying what noise alone would count; no verdict changes', async () => {
    const found = withNoise();
    const withPrimary = analyze({ ...noiseSpec, primary: [late] }, found);
    const verdicts = section(renderReport(withPrimary), 'Sub-claim verdicts');
    const note = verdicts.split('\n').find((l) => l.startsWith('- (a) post-hoc check, changes no verdict'));
    expect(note).toMatch(/the median detector flags a rise of 7 %, which is [\d.]+σ and [\d.]+σ of these runs' batch-loss noise/);
    expect(note).toContain("Noise alone crosses this threshold more often than the calibration's budget of 1 false event per 1k steps");
    expect(verdicts).toContain("Read (a) with the post-hoc check above: noise alone crosses its detector's threshold more often than the calibration allowed.");
    // report.html states it under its verdicts too.
    const dir = tempDir('v3-noise-');
    try {
      expect(readFileSync((await writeStudyPages(dir, withPrimary)).htmlPath, 'utf8')).toContain('(a) post-hoc check, changes no verdict');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The verdicts are those of the same analysis without the noise measured.
    const without = new Map([...found].map(([k, v]) => [k, v.digest ? { ...v, digest: { ...v.digest, noise: undefined } } : v]));
    const plain = analyze({ ...noiseSpec, primary: [late] }, without);
    expect(plain.phases.noise).toEqual([]);
    expect(withPrimary.primary).toEqual(plain.primary);
    expect(section(renderReport(plain), 'Sub-claim verdicts')).not.toContain('post-hoc check');
  });
});

describe('detector calibration', () => {
  /** A noisy flat loss (±2 %) and grad norm; injected runs jump 1.5× at steps 120 (10× LR) and 200 (shuffled batch). */
  const injections: Injection[] = [
    { step: 120, kind: 'lr', factor: 10 },
    { step: 200, kind: 'batch' },
  ];
  const series = (label: string, seed: number, injected: boolean): CalibrationSeries => {
    const rng = new Rng(seed);
    const signals = Array.from({ length: 300 }, (_, i) => {
      const f = injected && injections.some((x) => x.step === i + 1) ? 1.5 : 1;
      return { step: i + 1, loss: 2 * (1 + 0.02 * (rng.next() - 0.5)) * f, gradNorm: (1 + 0.02 * (rng.next() - 0.5)) * f };
    });
    return { label, seed, injections: injected ? injections : [], signals };
  };
  const rows = scoreCalibration(['adamw', 'muon'].flatMap((l, k) => [series(l, 10 + k, false), series(l, 20 + k, true)]));
  const result = calibrationResult({
    experiment: 'tiny-lm',
    labels: ['adamw', 'muon'],
    steps: 300,
    cleanSeeds: [10000],
    injectedSeeds: [11000],
    injections,
    window: 5,
    backend: 'wasm',
    command: 'npm run sandbox -- calibrate tiny-lm --seeds 1 --steps 300',
    rows,
  });
  const { choices } = result;
  /** The fixture with tiny-lm's detectors set by this calibration, as the spec records it. */
  const calibrated: StudySpec = {
    ...spec,
    tasks: spec.tasks.map((t) => (t.experiment === 'tiny-lm' ? { ...t, detectors: result.detectors } : t)),
    calibration: { tasks: ['tiny-lm'], result },
  };

  it('the report shows it after the protocol: its runs, the table with the chosen settings, the rules, the pre-registered detector', () => {
    validateStudy(calibrated);
    const t = renderReport(analyze(calibrated, runs()));
    const s = section(t, 'Detector calibration');
    expect(t.indexOf('## Detector calibration')).toBeGreaterThan(t.indexOf('## Protocol'));
    expect(t.indexOf('## Detector calibration')).toBeLessThan(t.indexOf('## Tuned learning rates'));
    expect(s).toContain('it set the spike detectors of tiny-lm');
    expect(s).toContain('clean seeds 10000 and injected seeds 11000 (backend wasm; `npm run sandbox -- calibrate tiny-lm --seeds 1 --steps 300`)');
    expect(s).toContain('Each injected run gets 10× LR @120, shuffled targets @200');
    // Every scored row, the chosen ones marked.
    expect(s.split('\n').filter((l) => /^\| (median|zscore|gradnorm) /.test(l))).toHaveLength(rows.length);
    for (const c of choices) expect(s).toMatch(new RegExp(`\\| ${c.detector} +\\| ${c.chosen.setting} ← `));
    expect(s).toContain(`Pre-registered: **${result.preRegistered}**.`);
    expect(renderReport(analyze(spec, runs()))).not.toContain('## Detector calibration');
  });

  it('is refused when a task it names is not in the study, or does not carry the detectors it chose', () => {
    expect(() => validateStudy({ ...calibrated, calibration: { tasks: ['tiny-moe'], result } })).toThrow(/calibration names task tiny-moe, which is not in the study/);
    expect(() => validateStudy({ ...spec, calibration: { tasks: ['tiny-lm'], result } })).toThrow(/task tiny-lm's detectors are not the ones its calibration chose/);
  });
});

describe('the protocol and the sections’ presence', () => {
  it('prints per-task seeds, the ladder and the long horizon', () => {
    const p = section(text, 'Protocol');
    expect(p).toContain('- Seeds, the same for both optimizers: tuning 0, 1 (n = 2) at every grid LR; stress, ladder and arms per task: tiny-lm 0–3 (n = 4); tiny-lm-d8 0–4 (n = 5);');
    expect(p).toContain('tiny-mlp 0–2 (n = 3). Long horizon: 5–8 (n = 4).');
    expect(p).toContain('Multiples: a ladder of rungs 1×, 2×, 4×, 8× (cap 8×)');
    expect(p).toContain('Tasks with their own multiples (off the ladder): tiny-lm-d8 1×; tiny-lm-d32 1×; tiny-mlp 1×.');
    expect(p).toContain(`- Long horizon: tiny-lm at 1× each optimizer's tuned LR (the experiment's warm-up, then constant) for 0.5 tokens per active non-embedding parameter: tiny-lm ${longSteps} steps`);
    expect(p).toContain('or (f = 0.5) it lost at least the share f');
    // The defaults are listed, then the task's own settings, which replace them there.
    expect(p).toContain('  - **median**: loss > 3× the median of the last 50 losses');
    expect(p).toContain(
      '  - **tiny-lm** uses its own settings, not the defaults above: median: loss above the median of the last 50 losses by more than 0.07× that median, no absolute floor (flags after 20); gradnorm: grad-norm z-score > 6 against an EMA mean and variance (α = 0.97, 25 warm-up steps).',
    );
    // The sections follow the stress tables, in phase order.
    const at = ['## Stress test', '## Stress ladder', '## Long horizon', '## Width trend', '## Positive control', '## Second-moment spike mechanism', '## Time to divergence'].map((h) => text.indexOf(h));
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it('states the limits of this design: seeds per cell from 3 to 5, the long horizon, its steps in the horizons', () => {
    const limits = text.slice(text.indexOf('### Limits of a small-scale test'));
    expect(limits).toContain(`trained for ${longSteps}–100 steps on a CPU`);
    expect(limits).toContain('- Seeds: n = 3–5 per cell (per task under Protocol). Where n = 3, intervals are wide');
    expect(limits).toContain('the exact two-sided Mann–Whitney p at 3 vs 3 cannot go below 0.1');
    expect(limits).toContain('- "Late-stage": the long-horizon phase (tiny-lm) trains for 0.5 tokens per active parameter');
  });

  it('leaves every section out of a study without the phases, and keeps the study-wide lines', () => {
    const plain: StudySpec = { ...spec, tasks: [{ experiment: 'tiny-lm' }], stress: { multipliers: [1, 2, 4], steps: 100 }, long: undefined, failureProgressShare: undefined };
    const found = new Map([...runs()].filter(([name]) => name.startsWith('stress__tiny-lm__')));
    const p = analyze(plain, found);
    expect(p.phases).toEqual({ ladder: [], long: [], width: [], control: [], mechanism: [], noise: [] });
    const t = renderReport(p);
    for (const h of ['Stress ladder', 'Long horizon', 'Width trend', 'Positive control', 'Second-moment spike mechanism', 'Spike detector against the loss noise']) expect(t).not.toContain(`## ${h}`);
    expect(t).toContain('- Seeds: 0, 1 (n = 2), the same for every optimizer, LR and multiplier.');
    expect(t).toContain("- Stress: each experiment's own warm-up, then a constant LR at 1×, 2×, 4× each optimizer's tuned LR, for each task's stress horizon (below).");
    expect(t).not.toContain('lost at least the share f');
  });

  it('report.html points to the phases’ sections and says whose seeds it names', async () => {
    const dir = tempDir('v3-sections-');
    try {
      const html = readFileSync((await writeStudyPages(dir, r)).htmlPath, 'utf8');
      expect(html).toContain('seeds 0, 1 for tuning (per task in REPORT.md)');
      // HTML-escaped: study's.
      expect(html).toContain('the exploratory sections of the study&#39;s phases (stress ladder, long horizon, width trend, positive control, second-moment spike mechanism)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('seed lists: runs of three or more as ranges', () => {
    expect(seedList([0, 1, 2, 3, 4])).toBe('0–4 (n = 5)');
    expect(seedList([0, 1, 3, 4, 5, 9])).toBe('0, 1, 3–5, 9 (n = 6)');
  });

  it('the shipped v3 spec: 20 seeds on the primary tasks, 5 in the exploratory arms', async () => {
    const ex = await loadStudyExperiments(full);
    const t = renderReport(analyzeCells(collectCells({ spec: full, experiments: Object.fromEntries(ex), runs: new Map() })));
    expect(t).toContain('lm-moe 0–19 (n = 20), its arms qkClip, zLoss, fp4, muon-match-rms, wsd 0–4 (n = 5); lm-brown 0–19 (n = 20);');
    expect(t).toContain('Long horizon: lm-moe 0–19 (n = 20); lm-brown 0–9 (n = 10).');
    expect(t).toContain('lm-moe 2845 steps (1.457e6 tokens); lm-brown 4065 steps (2.081e6 tokens)');
    // Nothing ran: every ladder is unfinished at its first rung.
    expect(section(t, 'Stress ladder')).toContain('unfinished: rung 1× has runs missing');
    // The calibration that set the LM detectors, as recorded (experiments/calibration/lm-moe.json).
    expect(full.calibration!.tasks).toEqual(['lm-moe', 'lm-brown', 'lm-moe-d32', 'lm-moe-d128']);
    expect(full.calibration!.result.choices.map((c) => [c.detector, c.chosen.setting, c.chosen.detectionRate, c.chosen.fpPer1k])).toEqual([
      ['median', 'threshold 0.07', 0.975, expect.closeTo(2 / 3, 9)],
      ['zscore', 'σ 3', 0.725, expect.closeTo(2 / 3, 9)],
      ['gradnorm', 'z 6', 0.25, expect.closeTo(2 / 3, 9)],
    ]);
    const cal = section(t, 'Detector calibration');
    expect(cal).toContain('it set the spike detectors of lm-moe, lm-brown, lm-moe-d32, lm-moe-d128');
    expect(cal).toMatch(/\| median +\| threshold 0\.07 ← +\| 0\.975 +\| 19\/20 +\| 20\/20 +\| 0\.667 +\| 0\.667 +\|/);
    expect(cal).toContain('Pre-registered: **median**.');
  });
});
