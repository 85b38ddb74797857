/**
 * Re-draw saved runs (loaded by train/run_dirs): group them into series (train/run_dirs runSeries), and
 * render a loss chart per task and variant (median over seeds, one series per optimizer and LR) and a
 * summary table.
 * Used after training and by `view`, so both show exactly what the files say.
 */
import type { RunConfig } from '../train/config.js';
import { medianPerIndex, summarize } from '../study/stats.js';
import { renderChart, type ChartSeries } from '../text/chart.js';
import { formatNumber, renderTable } from '../text/table.js';
import { count } from '../text/plural.js';
import { runLearningRates, runSeries, type LoadedRun } from '../train/run_dirs.js';

export { findRunDirs, loadRun, loadRuns, runSeries, type LoadedRun } from '../train/run_dirs.js';

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    m.set(k, [...(m.get(k) ?? []), it]);
  }
  return m;
}

function spikeTotals(runs: readonly LoadedRun[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.summary?.spikes ?? {})) totals[k] = (totals[k] ?? 0) + v;
  return totals;
}

export interface ViewOptions {
  width?: number;
  height?: number;
  logY?: boolean;
  smooth?: number;
  color?: boolean;
}

/**
 * One chart per task and variant (a study's arm, a precision, a tuning horizon): the training loss,
 * median over seeds, a series per optimizer and learning rate. Runs that differ in anything but
 * their seed are never pooled into one series.
 */
export function renderCharts(runs: readonly LoadedRun[], options: ViewOptions = {}): string {
  const parts: string[] = [];
  for (const [, group] of groupBy(runSeries(runs), (s) => `${s.experiment}\u0000${s.variant}`)) {
    const series: ChartSeries[] = group.map((s) => {
      const spikes = Object.entries(spikeTotals(s.runs))
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      const diverged = s.runs.filter((r) => r.summary?.diverged).length;
      return {
        label: s.name,
        values: medianPerIndex(s.runs.map((r) => r.metrics.map((m) => (m.loss === null ? NaN : m.loss)))),
        note: `${count(s.runs.length, 'seed')}${diverged ? `, ${diverged} diverged` : ''}; spikes ${spikes || 'n/a'}`,
      };
    });
    const { experiment, variant } = group[0]!;
    parts.push(
      renderChart(series, {
        ...options,
        title: `${experiment}${variant ? ` · ${variant}` : ''}: training loss (median over seeds)${options.logY ? ', log scale' : ''}`,
      }),
    );
  }
  return parts.join('\n\n');
}

function cell(values: readonly (number | null | undefined)[]): string {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (xs.length === 0) return '—';
  const s = summarize(xs);
  return xs.length === 1 ? formatNumber(s.median) : `${formatNumber(s.median)} [${formatNumber(s.q1)}–${formatNumber(s.q3)}]`;
}

/** A run's source of LRs when its config does not say (runs written before sources were recorded). */
const UNKNOWN_SOURCE = 'source not recorded';

/**
 * "0.1 (adamw 0.015), tuned: 7-point grid, 5 seeds": the main group's LR, any other group's, and
 * where they come from, as the run's config.json records them (× its lrScale).
 */
export function lrCell(config: RunConfig): string {
  const lrs = runLearningRates(config);
  if (!lrs) return `? (${config.optimizer.name} is not registered here)`;
  const [main, ...rest] = Object.entries(lrs);
  const others = rest.length ? ` (${rest.map(([g, lr]) => `${g} ${formatNumber(lr)}`).join(', ')})` : '';
  return `${formatNumber(main![1])}${others}, ${config.optimizer.lrSource ?? UNKNOWN_SOURCE}`;
}

/** Median [IQR] over seeds per series (task × optimizer × LR × setting × precision). */
export function renderSummaryTable(runs: readonly LoadedRun[]): string {
  const detectorNames = [...new Set(runs.flatMap((r) => Object.keys(r.summary?.spikes ?? {})))];
  const all = runSeries(runs);
  // A setting column only when some series has one (a study's arms, its tuning runs).
  const withSetting = all.some((s) => s.setting !== '');
  const headers = [
    'experiment',
    'optimizer',
    ...(withSetting ? ['setting'] : []),
    'precision',
    'lr, source',
    'seeds',
    'final loss',
    'eval loss',
    'eval acc',
    ...(runs.some((r) => r.summary?.evalBpc != null) ? ['eval bpc'] : []),
    ...detectorNames.map((d) => `spikes:${d}`),
    'diverged',
    's/run',
  ];
  const rows: string[][] = [];
  for (const series of all) {
    const group = series.runs;
    const done = group.filter((r) => r.summary);
    const sums = done.map((r) => r.summary!);
    rows.push([
      series.experiment,
      series.optimizer,
      ...(withSetting ? [series.setting || '—'] : []),
      series.precision,
      lrCell(group[0]!.config),
      `${done.length}${done.length < group.length ? ` (+${group.length - done.length} unfinished)` : ''}`,
      cell(sums.map((s) => s.finalLoss)),
      cell(sums.map((s) => s.evalLoss)),
      sums.some((s) => s.evalAcc != null) ? cell(sums.map((s) => s.evalAcc)) : '—',
      ...(runs.some((r) => r.summary?.evalBpc != null) ? [sums.some((s) => s.evalBpc != null) ? cell(sums.map((s) => s.evalBpc)) : '—'] : []),
      ...detectorNames.map((d) => cell(sums.map((s) => s.spikes[d] ?? null))),
      `${sums.filter((s) => s.diverged).length}/${sums.length}`,
      cell(sums.map((s) => s.wallSeconds)),
    ]);
  }
  return `${renderTable(headers, rows)}\n(median [q1–q3] over seeds; spikes are events per run)`;
}

export function renderRuns(runs: readonly LoadedRun[], options: ViewOptions = {}): string {
  return `${renderCharts(runs, options)}\n\n${renderSummaryTable(runs)}`;
}
