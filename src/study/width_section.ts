/**
 * Exploratory section "Width trend" (sub-claim (h), study v3): for each task with width variants
 * (tasks tagged `width: { of, dModel }`), the per-width shift of final eval loss at 1×, treatment −
 * baseline (the Hodges–Lehmann estimate with its exact interval, exact.ts), and the least-squares
 * slope of those shifts against log2(width).
 *
 * Why this interval for the slope: with three widths a regression's residual t interval has 1 degree
 * of freedom and rests on a linear model with equal, normal errors that three points cannot check
 * (and the widths have different seeds, so unequal errors). Instead: the slope is a fixed linear
 * combination Σ wᵢ·Δᵢ of the per-width shifts, wᵢ = (xᵢ − x̄)/Σ(x − x̄)², x = log2 d. Each width with
 * wᵢ ≠ 0 gets its exact interval at 1 − α/k (k such widths, Bonferroni); the widths' runs are
 * independent, so all k cover their shifts at once with probability ≥ the product of their
 * confidences, and then the slope lies between the box's extreme combinations. Distribution-free
 * under the shift model, valid at any number of widths ≥ 2, conservative, and it estimates the
 * least-squares line through the true per-width shifts without claiming the trend is linear — a
 * trend estimate, not a test of one. With log-widths equally spaced the middle width has weight 0.
 */
import { renderTable } from '../text/table.js';
import type { StudyCells } from './cells.js';
import { endpointSamples } from './endpoints.js';
import { hodgesLehmann, type HodgesLehmann } from './exact.js';
import { multLabel } from './protocol.js';
import { exploratory, num, pct } from './report_format.js';
import type { StudyResults, WidthPoint, WidthTrend } from './results.js';
import { FAMILY_ALPHA } from './stats.js';

/** The multiplier the trend compares the widths at: the tuned LR. */
export const WIDTH_MULTIPLIER = 1;

/** Least-squares weights of a slope: slope = Σ wᵢ·yᵢ for any y at these x. Null when the x do not vary. */
export function slopeWeights(xs: readonly number[]): number[] | null {
  const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
  const sxx = xs.reduce((a, x) => a + (x - mean) ** 2, 0);
  return sxx > 0 ? xs.map((x) => (x - mean) / sxx) : null;
}

/**
 * The slope Σ wᵢ·estᵢ and its range over the box of intervals [loᵢ, hiᵢ] (weight-0 points left out,
 * so an unbounded interval there does not matter).
 */
export function slopeRange(weights: readonly number[], shifts: readonly Pick<HodgesLehmann, 'estimate' | 'lo' | 'hi'>[]): { slope: number; lo: number; hi: number } {
  let slope = 0;
  let lo = 0;
  let hi = 0;
  weights.forEach((w, i) => {
    const s = shifts[i]!;
    if (w === 0) return;
    slope += w * s.estimate;
    lo += w * (w > 0 ? s.lo : s.hi);
    hi += w * (w > 0 ? s.hi : s.lo);
  });
  return { slope, lo, hi };
}

/** The width trends of a study (one per task with width variants); none without width tags. */
export function widthTrends(cells: StudyCells): WidthTrend[] {
  const { spec } = cells;
  const sides = { baseline: spec.baseline, treatment: spec.treatment };
  const groups = new Map<string, { task: string; dModel: number; b: readonly number[]; t: readonly number[] }[]>();
  for (const t of cells.tasks) {
    const w = t.task.width;
    if (!w) continue;
    const list = groups.get(w.of) ?? [];
    groups.set(w.of, list);
    const cell = t.stress.find((c) => c.multiplier === WIDTH_MULTIPLIER);
    // Final eval loss as the endpoint counts it: a diverged run at its initial loss.
    const s = cell && endpointSamples(cell, sides, t.failure, []).find((x) => x.slot === 'finalEval');
    if (s) list.push({ task: t.task.experiment, dModel: w.dModel, b: s.baseline, t: s.treatment });
  }
  return [...groups].map(([of, found]): WidthTrend => {
    const sorted = [...found].sort((a, b) => a.dModel - b.dModel);
    const weights = slopeWeights(sorted.map((p) => Math.log2(p.dModel)));
    const used = weights ? weights.filter((w) => w !== 0).length : 0;
    const points = sorted.map((p, i): WidthPoint => ({
      task: p.task,
      dModel: p.dModel,
      nBaseline: p.b.length,
      nTreatment: p.t.length,
      shift: hodgesLehmann(p.t, p.b),
      joint: weights && weights[i] !== 0 ? hodgesLehmann(p.t, p.b, 1 - FAMILY_ALPHA / used) : null,
    }));
    if (!weights) return { of, multiplier: WIDTH_MULTIPLIER, points, slope: null, lo: NaN, hi: NaN, confidence: NaN };
    const range = slopeRange(weights, points.map((p) => p.joint ?? p.shift!));
    const confidence = points.reduce((a, p) => a * (p.joint ? p.joint.confidence : 1), 1);
    return { of, multiplier: WIDTH_MULTIPLIER, points, ...range, confidence };
  });
}

const interval = (h: HodgesLehmann | null) => (h ? `${num(h.estimate)} [${num(h.lo)}, ${num(h.hi)}]` : '—');

/** The section, or '' for a study without width variants. */
export function widthSection(r: StudyResults): string {
  const trends = r.phases.width;
  if (trends.length === 0) return '';
  const { treatment: t, baseline: b } = r.spec;
  const parts = [
    '## Width trend',
    '',
    exploratory(`sub-claim (h), whether ${t}'s advantage in final eval loss changes with model width`),
    '',
    `Per width, at ${multLabel(WIDTH_MULTIPLIER)} each optimizer's tuned LR (each width tuned on its own): the Hodges–Lehmann shift of final eval loss, ${t} − ${b} (a diverged run counts as its initial loss), with its exact 95 % interval. The slope is the least-squares line through the per-width shifts against log2(d_model), in loss per doubling of width. Its interval: each width that enters the slope gets its interval at 1 − ${FAMILY_ALPHA}/k (k such widths, the "joint" column), and the slope interval spans the slopes over that box; the widths' runs are independent, so it covers the least-squares slope through the true per-width shifts with at least the stated confidence under the exact intervals' shift model (ties, such as diverged runs at their initial loss, make that approximate), with no assumption that the trend is linear or the errors normal. Its limits: it is conservative; with equally spaced log-widths the middle width has weight 0 (the slope is the end widths' difference over their log2 distance); and a few widths give **a trend estimate, not a test** — nothing here can tell a trend from a curve or from chance variation between widths.`,
    '',
  ];
  for (const w of trends) {
    parts.push(
      `### ${w.of}`,
      '',
      renderTable(
        ['task', 'd_model', `n (${t} / ${b})`, 'shift [95 % interval]', 'shift [joint interval]'],
        w.points.map((p) => [p.task, String(p.dModel), `${p.nTreatment} / ${p.nBaseline}`, interval(p.shift), p.joint ? `${interval(p.joint)} at ${pct(p.joint.confidence)}` : 'weight 0']),
      ),
      '',
      w.slope === null
        ? `Slope: — (fewer than two widths with runs of both optimizers at ${multLabel(w.multiplier)}).`
        : `Slope per doubling of width: ${num(w.slope)} [${num(w.lo)}, ${num(w.hi)}], coverage ≥ ${pct(w.confidence)}${Number.isFinite(w.lo) && Number.isFinite(w.hi) ? '' : ' (unbounded: too few seeds at some width for a finite exact interval)'}.`,
      '',
    );
  }
  return parts.join('\n').trimEnd();
}
