/**
 * The summary table of `npm start` / `npm run view` (median [q1–q3] over seeds per optimizer), as
 * rows of cells for the page. Same columns and number format as the terminal table; the terminal
 * one lives in src/cli (the top room, which nothing else may import), so the rows are built here
 * from the same pieces: summarize, formatNumber, groupLearningRates and the series label.
 */
import { summarize } from '../study/stats.js';
import { groupLearningRates } from '../study/tuned_record.js';
import { formatNumber } from '../text/table.js';
import { precisionOf, seriesLabel, type LoadedRun } from '../train/run_dirs.js';
import type { SummaryRow } from './protocol.js';

function cell(xs: readonly (number | null | undefined)[]): string {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) return '—';
  if (v.length === 1) return formatNumber(v[0]!);
  const s = summarize(v);
  return `${formatNumber(s.median)} [${formatNumber(s.q1)}–${formatNumber(s.q3)}]`;
}

function lrText(run: LoadedRun): string {
  const [main, ...rest] = Object.entries(groupLearningRates(run.config.optimizer)).map(([g, lr]) => [g, lr * run.config.lrScale] as const);
  const others = rest.length ? ` (${rest.map(([g, lr]) => `${g} ${formatNumber(lr)}`).join(', ')})` : '';
  return `${formatNumber(main![1])}${others}, ${run.config.optimizer.lrSource ?? '?'}`;
}

export function summaryTable(runs: readonly LoadedRun[]): { headers: string[]; rows: SummaryRow[] } {
  const detectors = [...new Set(runs.flatMap((r) => Object.keys(r.summary?.spikes ?? {})))];
  const bpc = runs.some((r) => r.summary?.evalBpc != null);
  const headers = ['optimizer', 'precision', 'lr, source', 'seeds', 'final loss', 'eval loss', 'eval acc', ...(bpc ? ['eval bpc'] : []), ...detectors.map((d) => `spikes:${d}`), 'diverged', 's/run'];
  const groups = new Map<string, LoadedRun[]>();
  for (const r of runs) groups.set(seriesLabel(r), [...(groups.get(seriesLabel(r)) ?? []), r]);
  const rows: SummaryRow[] = [];
  for (const [label, group] of groups) {
    const sums = group.flatMap((r) => (r.summary ? [r.summary] : []));
    rows.push({
      cells: [
        label,
        precisionOf(group[0]!),
        lrText(group[0]!),
        `${sums.length}${sums.length < group.length ? ` (+${group.length - sums.length} running)` : ''}`,
        cell(sums.map((s) => s.finalLoss)),
        cell(sums.map((s) => s.evalLoss)),
        sums.some((s) => s.evalAcc != null) ? cell(sums.map((s) => s.evalAcc)) : '—',
        ...(bpc ? [cell(sums.map((s) => s.evalBpc))] : []),
        ...detectors.map((d) => cell(sums.map((s) => s.spikes[d] ?? null))),
        `${sums.filter((s) => s.diverged).length}/${sums.length}`,
        cell(sums.map((s) => s.wallSeconds)),
      ],
    });
  }
  return { headers, rows };
}
