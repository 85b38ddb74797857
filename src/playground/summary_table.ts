/**
 * The summary table of `npm start` / `npm run view`, as rows of cells for the page: the same rows
 * the terminal prints (src/figures/run_table.ts), so the page and the CLI agree number for number.
 */
import { summaryTable as runsSummaryTable } from '../figures/run_table.js';
import type { LoadedRun } from '../train/run_dirs.js';
import type { SummaryRow } from './protocol.js';

export function summaryTable(runs: readonly LoadedRun[]): { headers: string[]; rows: SummaryRow[] } {
  const { headers, rows } = runsSummaryTable(runs);
  return { headers: [...headers], rows: rows.map((cells) => ({ cells })) };
}
