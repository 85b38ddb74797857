/**
 * A run's per-step records reduced, once, to everything the analysis, the report and the figures
 * read of them: the spike flags, the growth fit of each signal over the last half, the MoE balance
 * by tenths, and each plotted field's curve at a fixed resolution. The analysis reads digests only,
 * never records, so a study folder (digested as it is loaded, collect.ts) and a published bundle
 * (which stores the digests, bundle.ts) give the same report byte for byte, and a bundle stays a
 * few MB however long the runs were.
 *
 * What is exact and what is reduced: spike flags, the last step, growth slopes and balance tenths
 * are computed from every step at full precision. Curves are bucket means (CURVE_POINTS buckets over
 * the planned horizon) kept to CURVE_DIGITS significant digits: what a figure or a terminal chart
 * of ≤ 100 columns can show. The value of each field at each spike event and at a run's last finite
 * step are kept too, so a figure's markers sit on the run's own values, not on a bucket mean.
 */
import type { StepRecord } from '../train/loop.js';
import { logSlope, median } from './stats.js';

/** First step of the "last half" of a horizon: steps > this one. */
export const halfOf = (plannedSteps: number) => Math.floor(plannedSteps / 2);

/** A run's signal growth needs this many usable points in its last half. */
export const MIN_GROWTH_POINTS = 5;
/**
 * Per-step signals whose growth over the last half is reported, in this order, when a task's runs
 * record them: the LM's attention and output logits and the MoE router's, and the
 * gradient norm (every task).
 */
export const GROWTH_SIGNALS = ['maxAttnLogit', 'outputLogZ', 'routerMaxLogit', 'gradNorm'] as const;
/** Per-step MoE signals whose tenths make the balance traces. */
export const BALANCE_SIGNALS = ['maxVio', 'routerMaxLogit', 'deadExperts'] as const;

/** Buckets of a digested curve over the planned horizon (fewer for a horizon of fewer steps). */
export const CURVE_POINTS = 100;
/** Significant digits of a digested curve's values. */
export const CURVE_DIGITS = 4;
/**
 * Per-step fields kept as curves when the records carry them: the training and eval loss, and the
 * MoE and attention statistics the figures plot (figures/curves.ts EXTRA_METRICS reads a subset).
 */
export const CURVE_FIELDS = ['loss', 'evalLoss', 'maxVio', 'routerMaxLogit', 'maxAttnLogit', 'minAttnEntropy'] as const;
export type CurveField = (typeof CURVE_FIELDS)[number];

/** One field of one run over its horizon. */
export interface Curve {
  /** Mean of the field's finite values in each bucket, from bucket 0 up to the run's last; null where none. */
  readonly means: readonly (number | null)[];
  /**
   * Mean step of those values, per bucket; absent when every bucket's is the centre of the steps it
   * spans up to the run's last step (a field recorded at every step), which the reader recomputes.
   */
  readonly steps?: readonly (number | null)[];
  /** The value at the start of each spike event (RunDigest.events), or the last one before it; null when none yet. */
  readonly atEvents: readonly (number | null)[];
  /** The last finite value (a diverged run's, before it blew up). */
  readonly last: number | null;
}

/** What the analysis reads of one run's records. */
export interface RunDigest {
  /** The step of the last record. */
  readonly lastStep: number;
  /** Steps per curve bucket: ⌈planned steps / CURVE_POINTS⌉; bucket b spans steps b·width + 1 … (b + 1)·width. */
  readonly width: number;
  /** Every flagged step, ascending, with the detectors that flagged it. */
  readonly flagged: readonly (readonly [number, readonly string[]])[];
  /** GROWTH_SIGNALS with a positive finite value at some step. */
  readonly positive: readonly string[];
  /** Per GROWTH_SIGNAL: the log-slope per 1k steps over the last half, null with < MIN_GROWTH_POINTS usable points. */
  readonly growth: Readonly<Record<string, number | null>>;
  /** Per BALANCE_SIGNAL the records carry: its mean over each tenth of the planned horizon (null: no value there). */
  readonly tenths: Readonly<Record<string, readonly (number | null)[]>>;
  /** Per CURVE_FIELD the records carry. */
  readonly curves: Readonly<Record<string, Curve>>;
  /** Per optimizer group with an Adam second moment: the signal of Adam's spike mechanism around this run's spike events. */
  readonly mechanism: Readonly<Record<string, Mechanism>>;
  /** The batch-loss noise of the last half; absent with fewer than MIN_NOISE_STEPS steps to measure it at (and in digests made before it existed). */
  readonly noise?: LossNoise;
}

/**
 * The window of the loss noise's reference median: the study's median spike detector's (spikes.ts),
 * so the noise is measured against what that detector compares a loss with.
 */
export const NOISE_WINDOW = 50;
/** The loss noise needs this many measured steps in the last half. */
export const MIN_NOISE_STEPS = 20;
/** MAD × this estimates a normal distribution's σ. */
export const MAD_TO_SIGMA = 1.4826;

/**
 * How much a run's minibatch loss moves from step to step late in training, and the largest rise:
 * what a loss spike must stand out from. Per step t of the last half (with NOISE_WINDOW steps before
 * it), the log-rise r_t = ln(loss_t / median of the NOISE_WINDOW losses before t). Why: a spike rule
 * with a fixed threshold counts noise once the noise grows to that threshold (a 512-token batch's
 * loss spreads more at the end of a long run than early in a short one), so each run carries the
 * scale its detector's threshold must be read against.
 */
export interface LossNoise {
  /** The median of r_t: below 0 while the loss still falls (the reference median lags it). */
  readonly centre: number;
  /** Robust σ of r_t: 1.4826 × its median absolute deviation, which a few real spikes barely move. */
  readonly sigma: number;
  /** The largest r_t. */
  readonly maxRise: number;
  /** Steps measured. */
  readonly steps: number;
}

/**
 * The window before a spike event over which the mechanism's signal is averaged: MECHANISM_WINDOW
 * steps ending MECHANISM_GAP steps before the flagged step. The gap skips the instability's own
 * rise, which starts before a detector flags it (≈ 12 steps of exponential growth in the positive
 * control) and during which large gradients already pull the share down; the window is long enough
 * to average a step's noise and short against v̂'s memory (1/(1 − β₂) = 1000 steps at β₂ = 0.999).
 */
export const MECHANISM_WINDOW = 50;
export const MECHANISM_GAP = 20;

/**
 * Adam's second-moment spike mechanism (docs/references.md#adam-spikes): the share of a group's
 * coordinates whose squared gradient is far below their second moment (StepRecord.smallGradShare),
 * over the last half of the run and before each spike event that starts there. If Adam's spikes
 * come from this mechanism, the share is high before them. The last half only, as for the late
 * spike endpoints: early in a run the share moves with the warm-up and v̂'s bias correction, so an
 * early event's window and the run's mean would compare different regimes.
 */
export interface Mechanism {
  /** Mean share over the recorded steps of the last half. */
  readonly mean: number;
  /** Per spike event starting in the last half, in order: the mean share over its window (MECHANISM_WINDOW, which may reach back before the half); null when none was recorded. */
  readonly beforeEvents: readonly (number | null)[];
}

const valueOf = (r: StepRecord, field: string): number => {
  const v = (r as unknown as Record<string, unknown>)[field];
  return typeof v === 'number' ? v : NaN;
};

/**
 * Mean of a per-step series over each of `parts` equal slices of the planned horizon (value i is
 * step i + 1). Slices a run never reached (it diverged) are NaN, so runs of different lengths line up.
 */
function slices(values: readonly number[], parts: number, plannedSteps: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < parts; i++) {
    const a = Math.floor((i * plannedSteps) / parts);
    const b = Math.max(a + 1, Math.floor(((i + 1) * plannedSteps) / parts));
    const xs = values.slice(a, b).filter(Number.isFinite);
    out.push(xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
  }
  return out;
}

const round = (x: number) => (x === 0 ? 0 : Number(x.toPrecision(CURVE_DIGITS)));
const orNull = (x: number) => (Number.isFinite(x) ? x : null);

/** Start steps of the spike events: a flagged step whose previous step is not flagged. */
export function eventStarts(flagged: RunDigest['flagged']): (readonly [number, readonly string[]])[] {
  return flagged.filter(([step], i) => i === 0 || flagged[i - 1]![0] !== step - 1);
}

/** The centre of the steps bucket b spans, up to `lastStep`. */
export const bucketCentre = (b: number, width: number, lastStep: number) => (b * width + 1 + Math.min((b + 1) * width, lastStep)) / 2;

function curveOf(records: readonly StepRecord[], field: string, width: number, events: readonly number[]): Curve | undefined {
  const sums: { sum: number; count: number; stepSum: number }[] = [];
  let last = NaN;
  const atEvents: (number | null)[] = [];
  let e = 0;
  for (const r of records) {
    const v = valueOf(r, field);
    if (Number.isFinite(v)) {
      const b = Math.floor((r.step - 1) / width);
      const s = (sums[b] ??= { sum: 0, count: 0, stepSum: 0 });
      s.sum += v;
      s.count++;
      s.stepSum += r.step;
      last = v;
    }
    while (e < events.length && events[e]! <= r.step) {
      atEvents.push(orNull(round(last)));
      e++;
    }
  }
  if (!Number.isFinite(last)) return undefined;
  while (atEvents.length < events.length) atEvents.push(orNull(round(last)));
  const lastStep = records.at(-1)!.step;
  const buckets = Array.from({ length: sums.length }, (_, b) => sums[b]);
  const means = buckets.map((s) => (s ? round(s.sum / s.count) : null));
  const steps = buckets.map((s) => (s ? s.stepSum / s.count : null));
  const dense = steps.every((x, b) => x === null || x === bucketCentre(b, width, lastStep));
  return { means, ...(dense ? {} : { steps }), atEvents, last: round(last) };
}

/** The digest of a run's records over a horizon of `plannedSteps`. */
export function digestRun(records: readonly StepRecord[], plannedSteps: number): RunDigest {
  const width = Math.max(1, Math.ceil(plannedSteps / CURVE_POINTS));
  const flagged = records.flatMap((r): (readonly [number, readonly string[]])[] => (r.spikes && r.spikes.length > 0 ? [[r.step, [...r.spikes]]] : []));
  const events = eventStarts(flagged).map(([step]) => step);
  const half = halfOf(plannedSteps);
  const late = records.filter((r) => r.step > half);
  const growth: Record<string, number | null> = {};
  const positive: string[] = [];
  for (const signal of GROWTH_SIGNALS) {
    if (records.some((r) => valueOf(r, signal) > 0)) positive.push(signal);
    if (!records.some((r) => Number.isFinite(valueOf(r, signal)))) continue;
    const fit = logSlope(
      late.map((r) => r.step),
      late.map((r) => valueOf(r, signal)),
    );
    growth[signal] = fit && fit.n >= MIN_GROWTH_POINTS ? fit.slope * 1000 : null;
  }
  const tenths: Record<string, (number | null)[]> = {};
  for (const signal of BALANCE_SIGNALS) {
    if (records.some((r) => Number.isFinite(valueOf(r, signal)))) tenths[signal] = slices(records.map((r) => valueOf(r, signal)), 10, plannedSteps).map(orNull);
  }
  const curves: Record<string, Curve> = {};
  for (const field of CURVE_FIELDS) {
    const c = curveOf(records, field, width, events);
    if (c) curves[field] = c;
  }
  const noise = lossNoise(records, half);
  return {
    lastStep: records.at(-1)?.step ?? 0,
    width,
    flagged,
    positive,
    growth,
    tenths,
    curves,
    mechanism: mechanismOf(records, half, events.filter((e) => e > half)),
    ...(noise ? { noise } : {}),
  };
}

/** LossNoise over the records after `half`; undefined with too few measurable steps. */
function lossNoise(records: readonly StepRecord[], half: number): LossNoise | undefined {
  const rises: number[] = [];
  for (let i = NOISE_WINDOW; i < records.length; i++) {
    const loss = records[i]!.loss;
    if (records[i]!.step <= half || !(loss > 0) || !Number.isFinite(loss)) continue;
    const window = records.slice(i - NOISE_WINDOW, i).map((r) => r.loss);
    if (!window.every((x) => x > 0 && Number.isFinite(x))) continue;
    rises.push(Math.log(loss / median(window)));
  }
  if (rises.length < MIN_NOISE_STEPS) return undefined;
  const centre = median(rises);
  const sigma = MAD_TO_SIGMA * median(rises.map((x) => Math.abs(x - centre)));
  return { centre: round(centre), sigma: round(sigma), maxRise: round(Math.max(...rises)), steps: rises.length };
}

/** The mechanism's signal per Adam group over the steps after `half` and before each of `events` (those starting there). */
function mechanismOf(records: readonly StepRecord[], half: number, events: readonly number[]): Record<string, Mechanism> {
  const groups = [...new Set(records.flatMap((r) => Object.keys(r.smallGradShare ?? {})))].sort();
  const mean = (xs: readonly number[]) => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const out: Record<string, Mechanism> = {};
  for (const g of groups) {
    const at = records.flatMap((r) => {
      const v = r.smallGradShare?.[g];
      return typeof v === 'number' && Number.isFinite(v) ? [[r.step, v] as const] : [];
    });
    const all = mean(at.filter(([step]) => step > half).map(([, v]) => v));
    if (all === null) continue;
    const beforeEvents = events.map((e) => mean(at.filter(([step]) => step >= e - MECHANISM_GAP - MECHANISM_WINDOW && step < e - MECHANISM_GAP).map(([, v]) => v)));
    out[g] = { mean: all, beforeEvents };
  }
  return out;
}
