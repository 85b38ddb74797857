/// <reference lib="dom" />
/**
 * What the playground page draws, apart from its controls: each figure laid out to the width of
 * its column (the layout of report.html, through pageSpec) and the summary table in a box that
 * scrolls sideways when the table is wider than the page's column.
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { pageSpec } from '../figures/specs.js';
import type { FromWorker } from './protocol.js';

type SummaryTable = Extract<FromWorker, { type: 'update' }>['summary'];

/** An element with its properties and children: the page's one DOM helper. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, children: (Node | string)[] = []): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

/** Columns of words (left-aligned); the LR column wraps: its source note is a phrase. */
const TEXT_COLUMNS = new Set(['experiment', 'optimizer', 'setting', 'precision', 'task']);
const WRAPPED_COLUMN = 'lr, source';

/** The summary table in its scroll box, and the note under it. */
export function summaryNodes(s: SummaryTable): HTMLElement[] {
  const cls = (h: string | undefined) => [TEXT_COLUMNS.has(h ?? '') ? 'text' : '', h === WRAPPED_COLUMN ? 'wrap' : ''].join(' ').trim();
  const table = el('table', {}, [
    // A detector's column ("spikes:zscore") may break after the colon: its cells are short numbers.
    el('thead', {}, [el('tr', {}, s.headers.map((h) => el('th', { scope: 'col', className: cls(h) }, h.split(':').flatMap((part, i) => (i === 0 ? [part] : [':', el('wbr'), part])))))]),
    el('tbody', {}, s.rows.map((r) => el('tr', {}, r.cells.map((c, i) => el('td', { className: cls(s.headers[i]) }, [c]))))),
  ]);
  // A table wider than the column scrolls inside its own box (never the page), with shadows at
  // the edges and a note saying so.
  const box = el('div', { className: 'table-scroll', tabIndex: 0 }, [table]);
  box.setAttribute('role', 'region');
  box.setAttribute('aria-label', 'Summary table');
  return [box, el('p', { className: 'muted' }, ['median [q1–q3] over seeds; spikes are events per run', el('span', { className: 'scroll-hint' }, [' · scroll sideways for more columns'])])];
}

/** data-overflow on the table's box when it has to scroll: shows the note under it. */
export function markOverflow(): void {
  const box = document.querySelector<HTMLElement>('#summary .table-scroll');
  if (box) box.dataset['overflow'] = String(box.scrollWidth > box.clientWidth + 1);
}

/**
 * The width a figure gets: one track of the #figures grid (its tracks exist even while it is
 * empty, so the width is known before the new figures replace the old ones).
 */
export function columnWidth(grid: HTMLElement): number {
  const track = parseFloat(getComputedStyle(grid).gridTemplateColumns);
  return Math.floor(Number.isFinite(track) && track > 0 ? track : grid.clientWidth);
}

/**
 * One figure drawn to fit `width`. Axis labels are measured only when drawn, so a figure that
 * comes out wider (long tick labels) is drawn once more, narrower by the excess, as report.html does.
 */
export async function drawChart(spec: TopLevelSpec, chart: HTMLElement, width: number, theme: 'light' | 'dark'): Promise<View> {
  for (let w = width, retry = true; ; retry = false) {
    chart.replaceChildren();
    const view = new View(parse(compile(pageSpec(spec, w, theme)).spec), { renderer: 'svg', container: chart, hover: true });
    await view.runAsync();
    const drawn = Number(chart.querySelector('svg')?.getAttribute('width') ?? 0);
    if (drawn <= width || !retry) return view;
    view.finalize();
    w -= Math.ceil(drawn - width) + 2;
  }
}
