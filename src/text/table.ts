/** Plain-text tables and compact numbers for terminal reports. */

export type Align = 'left' | 'right';

export interface TableOptions {
  /** Per column; default: right for columns of numbers (blank and '—' cells allowed), left otherwise. */
  align?: Align[];
}

/**
 * Compact number: `digits` significant digits with trailing zeros dropped, plain notation for
 * 1e-3 ≤ |x| < 1e5 (and for integers below 1e6, e.g. step counts), an exponent otherwise so a
 * column never fills with zeros; '—' for a missing value or NaN.
 */
export function formatNumber(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '-∞';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (Number.isInteger(x) && abs < 1e6) return String(x);
  // Number(...) of the rounded text drops trailing zeros; rounding up to 1e5 still prints plainly.
  if (abs >= 1e-3 && abs < 1e5) return String(Number(x.toPrecision(digits)));
  return x
    .toExponential(digits - 1)
    .replace(/\.?0+e/, 'e')
    .replace('e+', 'e');
}

/** Visible width in code points: enough for the '—', '±', 'σ' etc. these tables hold. */
function width(s: string): number {
  return [...s].length;
}

function pad(s: string, w: number, align: Align): string {
  const fill = ' '.repeat(Math.max(0, w - width(s)));
  return align === 'right' ? fill + s : s + fill;
}

/**
 * A Markdown pipe table, padded to its content so it reads as-is in a terminal and can be pasted
 * into a README. Numbers go through formatNumber.
 */
export function renderTable(headers: string[], rows: (string | number)[][], options: TableOptions = {}): string {
  const cols = Math.max(headers.length, ...rows.map((r) => r.length));
  const cell = (v: string | number | undefined): string =>
    (typeof v === 'number' ? formatNumber(v) : (v ?? '')).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const head = Array.from({ length: cols }, (_, c) => cell(headers[c]));
  const body = rows.map((r) => Array.from({ length: cols }, (_, c) => cell(r[c])));
  const align = Array.from({ length: cols }, (_, c): Align => {
    const given = options.align?.[c];
    if (given) return given;
    const values = rows.map((r) => r[c]);
    const numeric = values.every((v) => typeof v === 'number' || v === undefined || v === '' || v === '—');
    return numeric && values.some((v) => typeof v === 'number') ? 'right' : 'left';
  });
  // Three dashes at least, so the separator stays valid Markdown for narrow columns.
  const widths = head.map((h, c) => Math.max(3, width(h), ...body.map((r) => width(r[c]!))));
  const line = (cells: string[]): string => `| ${cells.map((s, c) => pad(s, widths[c]!, align[c]!)).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (align[c] === 'right' ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n');
}
