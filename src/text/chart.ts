/** Terminal line charts of training curves (asciichart), sized to the terminal and safe for diverged runs. */
import * as asciichart from 'asciichart';
import { formatNumber } from './table.js';
import { ansiForeground, seriesColours } from './palette.js';

export interface ChartSeries {
  readonly label: string;
  /** One value per step: values[i] is step i + 1. */
  readonly values: readonly number[];
  /** Shown in the legend, e.g. 'spikes median=2 zscore=1'. */
  readonly note?: string;
}

export interface ChartOptions {
  /** Total columns, y labels included; default process.stdout.columns, else 80. */
  width?: number;
  /** Plot rows (about: asciichart rounds the y range); default 12. */
  height?: number;
  logY?: boolean;
  /** EMA factor in [0, 1), 0 = none. */
  smooth?: number;
  /** Default useColor(). */
  color?: boolean;
  title?: string;
  /** Default 'step'. */
  xLabel?: string;
  /** Steps each value stands for (a curve of bucket means): the x axis and divergence steps are scaled by it. Default 1. */
  stepsPerValue?: number;
}

/**
 * Colour on a TTY unless NO_COLOR is set to anything non-empty (no-color.org). FORCE_COLOR wins
 * over both, as in Node itself ('0' or 'false' forces colour off), so piping into `less -R` works.
 */
export function useColor(
  stream: { readonly isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  if (env.NO_COLOR) return false;
  return stream.isTTY === true;
}

/**
 * Means of `points` near-equal consecutive buckets, ignoring non-finite values; a bucket with no
 * finite value is NaN. Input already no longer than `points` is returned as is (never upsampled).
 */
export function downsample(values: readonly number[], points: number): number[] {
  const n = values.length;
  const p = Math.max(0, Math.floor(points));
  if (n <= p) return [...values];
  const out: number[] = [];
  for (let b = 0; b < p; b++) {
    let sum = 0;
    let count = 0;
    for (let i = Math.floor((b * n) / p); i < Math.floor(((b + 1) * n) / p); i++) {
      const v = values[i]!;
      if (Number.isFinite(v)) {
        sum += v;
        count++;
      }
    }
    out.push(count > 0 ? sum / count : Number.NaN);
  }
  return out;
}

/** asciichart's gap between the label's right edge and the data: label, space, axis column. */
const OFFSET = 3;

/**
 * asciichart's own symbols except the first: it marks the "zero" row with '┼', but computes that
 * row wrongly unless min = −max (and never right on a log scale), so the axis is plain '┤'.
 */
const SYMBOLS: [string, string, string, string, string, string, string, string, string, string] = [
  '┤', '┤', '╶', '╴', '─', '╰', '╭', '╮', '╯', '│',
];

function ema(values: readonly number[], factor: number): number[] {
  const out: number[] = [];
  let s = values[0] ?? 0;
  for (const v of values) out.push((s = factor * s + (1 - factor) * v));
  return out;
}

/** asciichart cannot draw NaN: fill gaps (log-y of non-positive values) from the left, the head from the right. */
function fillGaps(values: number[]): number[] {
  const first = values.find(Number.isFinite);
  if (first === undefined) return [];
  let last = first;
  return values.map((v) => (Number.isFinite(v) ? (last = v) : last));
}

function truncate(s: string, width: number): string {
  const chars = [...s];
  return chars.length <= width ? s : `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

/**
 * The y labels asciichart will ask for (its own formula, replicated so the gutter width is known
 * before the x resolution is chosen), with the fewest significant digits (≥ 3) that keep
 * neighbouring labels distinct.
 */
function yLabels(min: number, max: number, height: number, show: (y: number) => number): (y: number) => string {
  const ratio = height / (max - min);
  const min2 = Math.round(min * ratio);
  const rows = Math.round(max * ratio) - min2;
  const ys = Array.from({ length: rows + 1 }, (_, k) => max - (k * (max - min)) / rows);
  let digits = 3;
  const text = (y: number): string => formatNumber(show(y), digits);
  while (digits < 6 && ys.some((y, k) => k > 0 && text(y) === text(ys[k - 1]!))) digits++;
  // asciichart overwrites a 1-character label with the axis.
  const width = Math.max(2, ...ys.map((y) => text(y).length));
  return (y) => text(y).padStart(width);
}

/**
 * One chart of several series against the step, then an x-axis line and one legend line per series.
 *
 * Alignment: the longest series sets the step range and is averaged into as many columns as fit;
 * a series of k steps gets the same steps-per-column, i.e. k/longest of the columns, so every
 * column is (to within one) the same range of steps for all series and shorter runs just end early.
 * A series stops at its first non-finite value (a diverged run; asciichart cannot draw NaN) and
 * its legend says where.
 */
export function renderChart(series: readonly ChartSeries[], options: ChartOptions = {}): string {
  const width = Math.max(24, Math.floor(options.width ?? process.stdout.columns ?? 80));
  const height = Math.max(3, Math.floor(options.height ?? 12));
  const smooth = options.smooth ?? 0;
  if (!(smooth >= 0 && smooth < 1)) throw new RangeError(`renderChart: smooth must be in [0, 1), got ${smooth}`);
  const logY = options.logY ?? false;
  const color = options.color ?? useColor();
  const xLabel = options.xLabel ?? 'step';
  const perValue = options.stepsPerValue ?? 1;

  // The figures' palette (src/figures/palette.ts), so an optimizer has one colour everywhere.
  const colours = seriesColours(series.map((s) => s.label));
  const prepared = series.map((s) => {
    const cut = s.values.findIndex((v) => !Number.isFinite(v));
    const kept = cut < 0 ? s.values : s.values.slice(0, cut);
    const smoothed = smooth > 0 ? ema(kept, smooth) : [...kept];
    // Non-positive values have no logarithm: they become gaps, filled after downsampling.
    const ys = logY ? smoothed.map((v) => (v > 0 ? Math.log10(v) : Number.NaN)) : smoothed;
    return { s, ys, last: kept.at(-1), divergedAt: cut < 0 ? null : cut * perValue + 1, color: ansiForeground(colours.get(s.label)!) };
  });
  const steps = Math.max(0, ...series.map((s) => s.values.length));
  const finite = prepared.flatMap((p) => p.ys.filter(Number.isFinite));

  const annotations = [logY ? 'log y' : '', smooth > 0 ? `EMA ${smooth}` : ''].filter(Boolean).join(', ');
  const title = options.title ?? series.map((s) => s.label).join(' vs ');
  const lines = [truncate(annotations ? `${title} (${annotations})` : title, width)];

  let plotted = new Set<number>();
  if (finite.length === 0) {
    lines.push('(nothing to plot)');
  } else {
    // The y range is that of the values before averaging into columns: a one-step spike that
    // downsampling flattens still stretches the axis, so the scale never hides it entirely.
    let min = Math.min(...finite);
    let max = Math.max(...finite);
    if (max === min) [min, max] = [min - (Math.abs(min) * 0.1 || 1), max + (Math.abs(max) * 0.1 || 1)];
    // asciichart draws rows+1 lines for `height` rows.
    const label = yLabels(min, max, height - 1, logY ? (y) => 10 ** y : (y) => y);
    // Columns left of the axis: label, then OFFSET − 2 spaces (for labels of ≥ 2 characters).
    const gutter = label(max).length + OFFSET - 2;
    // The first point sits on the axis column, so the plot spans width − gutter columns.
    const columns = Math.max(2, Math.min(steps, width - gutter));
    const curves = prepared.map((p) => fillGaps(downsample(p.ys, Math.max(1, Math.round((p.ys.length / steps) * columns)))));
    plotted = new Set(curves.flatMap((c, i) => (c.length > 0 ? [i] : [])));
    const shown = [...plotted];
    const chart = asciichart.plot(
      shown.map((i) => curves[i]!),
      {
        height: height - 1,
        offset: OFFSET,
        symbols: SYMBOLS,
        min,
        max,
        colors: color ? shown.map((i) => prepared[i]!.color) : undefined,
        format: (y) => label(y),
      },
    );
    // Lines end with asciichart's blank column; trimming keeps them inside `width`.
    lines.push(...chart.split('\n').map((l) => l.trimEnd()));
    const span = Math.max(...curves.map((c) => c.length));
    lines.push(xAxis(gutter, span, steps * perValue, xLabel, width));
  }

  for (const [i, p] of prepared.entries()) {
    // Most important first, since a narrow terminal truncates the end.
    const parts = [p.s.label];
    if (p.divergedAt !== null) parts.push(`(diverged at step ${p.divergedAt})`);
    if (p.ys.length > 0 && !plotted.has(i)) parts.push('(no positive values to plot)');
    if (p.s.note) parts.push(p.s.note);
    if (p.last !== undefined) parts.push(`last ${formatNumber(p.last, 3)}`);
    const marker = color ? asciichart.colored('──', p.color) : '──';
    lines.push(`  ${marker} ${truncate(parts.join('  '), width - 5)}`);
  }
  return lines.join('\n');
}

/** "1 ───── step ───── 3000" under the plot, from the axis column to the last point. */
function xAxis(gutter: number, span: number, steps: number, label: string, width: number): string {
  const first = '1';
  const last = String(steps);
  const mid = ` ${label} `;
  const room = span - first.length - last.length - mid.length;
  if (room < 0) return truncate(`${label} ${first}–${last}`, width);
  const left = Math.floor(room / 2);
  return `${' '.repeat(gutter)}${first}${'─'.repeat(left)}${mid}${'─'.repeat(room - left)}${last}`;
}
