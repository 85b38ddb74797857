/**
 * Re-draw saved runs (loaded by train/run_dirs): group them into series (train/run_dirs runSeries), and
 * render a loss chart per task and variant (median over seeds, one series per optimizer and LR) and a
 * summary table.
 * Used after training and by `view`, so both show exactly what the files say.
 */
import { medianPerIndex } from '../study/stats.js';
import { SUMMARY_TABLE_NOTE, summaryTable } from '../figures/run_table.js';
import { renderChart, type ChartSeries } from '../text/chart.js';
import { renderTable } from '../text/table.js';
import { count } from '../text/plural.js';
import { runSeries, type LoadedRun } from '../train/run_dirs.js';

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

/** Median [IQR] over seeds per series (task × optimizer × LR × setting × precision). */
export function renderSummaryTable(runs: readonly LoadedRun[]): string {
  const { headers, rows } = summaryTable(runs);
  return `${renderTable([...headers], rows.map((r) => [...r]))}\n${SUMMARY_TABLE_NOTE}`;
}

export function renderRuns(runs: readonly LoadedRun[], options: ViewOptions = {}): string {
  return `${renderCharts(runs, options)}\n\n${renderSummaryTable(runs)}`;
}
