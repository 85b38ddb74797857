/**
 * The summary table of `npm start` / `npm run view`, as rows of cells for the page: the same rows
 * the terminal prints (src/figures/run_table.ts), so the page and the CLI agree number for number.
 */
import { summaryTable as runsSummaryTable } from '../figures/run_table.js';
import type { StudyResults } from '../study/results.js';
import { formatNumber } from '../text/table.js';
import type { LoadedRun } from '../train/run_dirs.js';
import type { SummaryRow } from './protocol.js';

export function summaryTable(runs: readonly LoadedRun[]): { headers: string[]; rows: SummaryRow[] } {
  const { headers, rows } = runsSummaryTable(runs);
  return { headers: [...headers], rows: rows.map((cells) => ({ cells })) };
}

/** A study's stress cells, one row per task × multiplier × optimizer: what the study figures show, in numbers. */
export function studyTable(r: StudyResults): { headers: string[]; rows: SummaryRow[] } {
  const rows = r.stress.flatMap((c) =>
    Object.entries(c.byLabel).map(([label, l]) => ({
      cells: [
        c.task,
        `${c.multiplier}×`,
        label,
        formatNumber(l.lr),
        String(l.n),
        String(l.diverged),
        l.finalEvalLoss ? formatNumber(l.finalEvalLoss.median) : '—',
      ],
    })),
  );
  return { headers: ['task', 'LR multiplier', 'optimizer', 'LR', 'runs', 'diverged', 'final eval loss (median)'], rows };
}
