/**
 * The summary table of saved runs, as headers and rows of text: median [q1–q3] over seeds per
 * series (task × optimizer × LR × setting × precision). The terminal view (`npm start`, `view`)
 * and the browser playground both render these rows, so their numbers are the same by construction.
 */
import type { RunConfig } from '../train/config.js';
import { runLearningRates, runSeries, type LoadedRun } from '../train/run_dirs.js';
import { summarize } from '../study/stats.js';
import { formatNumber } from '../text/table.js';

export interface SummaryTable {
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** The note printed under the table. */
export const SUMMARY_TABLE_NOTE = '(median [q1–q3] over seeds; spikes are events per run)';

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
export function summaryTable(runs: readonly LoadedRun[]): SummaryTable {
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
  return { headers, rows };
}
