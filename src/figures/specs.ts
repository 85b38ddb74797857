/**
 * Vega-Lite spec builders, one per kind of figure. Each takes plotted rows (see traces.ts) and
 * returns a complete spec: panels as small multiples (concat, so each panel keeps its own zoom),
 * sized to fill the figure's width (theme.ts panelLayout: the SVG files at STATIC_FIGURE_WIDTH, the
 * HTML page again at its own width), colours from the shared palette, and the caption as a title
 * under the figure. Interaction
 * (hover tooltips, drag/wheel zoom on curves, click a legend entry to toggle a series) is part of
 * the spec; the static SVG rendering ignores it.
 *
 * Size: over 400 lines because the three builders share the colour channel, markers, flat-scale rule and
 * layout defined here; split apart, each would import most of the others' helpers.
 */
import type { TopLevelSpec } from 'vega-lite';
import { round, type BandPoint, type EventPoint, type RateCI } from './traces.js';
import { figureConfig, panelLayout, STATIC_FIGURE_WIDTH, type Theme } from './theme.js';

/** A figure: where it goes, what it is called, and its spec. */
export interface Figure {
  /** File name stem: figures/<id>.svg. */
  readonly id: string;
  /** The report section it belongs to (a heading in report.html). */
  readonly section: string;
  readonly title: string;
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

type Spec = Record<string, unknown>;

/** Mark names the figures use; the SVG carries them as classes (`<name>_marks`), the tests count them. */
export const MARKS = {
  median: 'median',
  band: 'band',
  spike: 'spike',
  diverged: 'diverged',
  point: 'point',
  interval: 'interval',
  tuned: 'tuned',
  initial: 'initial',
} as const;

/** Layers only the interactive page needs (see staticSpec in render.ts). */
export const HOVER_PREFIX = 'hover';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Split a caption into lines of at most `width` characters (vega does not wrap titles). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

function captionTitle(title: string, caption: string): Spec {
  // ≈ 5.8 px per character at 11 px.
  return { text: title, subtitle: wrap(caption, Math.max(70, Math.floor(STATIC_FIGURE_WIDTH / 5.8))), orient: 'bottom', anchor: 'start', offset: 14 };
}

/** What the page needs to lay a figure out again at its own width (see layoutSpec). */
export interface LayoutMeta {
  /** Columns the figure fixes (e.g. one per detector); 0: as many as fit. */
  readonly fixedColumns: number;
}

/**
 * The spec laid out for `width` px: its columns and every panel's plot size. The page runs the
 * same steps in its glue script (html.ts), with panelLayout's own source.
 */
export function layoutSpec(spec: TopLevelSpec, width: number): TopLevelSpec {
  const s = spec as unknown as { concat?: Spec[]; usermeta?: LayoutMeta };
  if (!s.concat) return spec;
  const layout = panelLayout(width, s.concat.length, s.usermeta?.fixedColumns ?? 0);
  return {
    ...spec,
    columns: layout.columns,
    concat: s.concat.map((panel) => ({ ...panel, width: layout.width, height: layout.height })),
  } as unknown as TopLevelSpec;
}

/**
 * The spec as a page draws it in a container `width` px wide: laid out (layoutSpec), the theme's
 * config with the legend in as many columns as fit that width, and no title (the page's
 * <figcaption> carries it). The playground draws with it; report.html and runs.html run the same
 * steps in their inline glue script (html.ts), which cannot import modules.
 */
export function pageSpec(spec: TopLevelSpec, width: number, theme: Theme): TopLevelSpec {
  const laid = { ...(layoutSpec(spec, width) as unknown as Spec) };
  delete laid['title'];
  laid['config'] = figureConfig(theme, panelLayout(width, 1).legendColumns);
  return laid as unknown as TopLevelSpec;
}

function colourScale(colours: ReadonlyMap<string, string>): Spec {
  return { domain: [...colours.keys()], range: [...colours.values()] };
}

/** The colour channel: one legend, symbols at full opacity even though bands are drawn faint. */
function colourChannel(colours: ReadonlyMap<string, string>, title = 'optimizer'): Spec {
  return { field: 'o', type: 'nominal', title, scale: colourScale(colours), legend: { symbolOpacity: 1 } };
}

/** A diagonal cross (✕) in Vega's unit-square symbol coordinates: a divergence. */
const X_SHAPE = 'M-0.8,-0.8L0.8,0.8M-0.8,0.8L0.8,-0.8';
const DIVERGED_MARK = { type: 'point', shape: X_SHAPE, filled: false, size: 90, strokeWidth: 2.2 };

function top(panels: readonly Spec[], rows: readonly Spec[], title: string, caption: string, description: string, fixedColumns = 0, extra: Spec = {}): TopLevelSpec {
  const usermeta: LayoutMeta = { fixedColumns };
  const spec = {
    $schema: SCHEMA,
    description,
    data: { values: rows },
    concat: panels,
    ...extra,
    usermeta,
    title: captionTitle(title, caption),
  } as unknown as TopLevelSpec;
  return layoutSpec(spec, STATIC_FIGURE_WIDTH);
}

/**
 * A scale whose values are all equal (no spike anywhere, one evaluation) gets a visible range
 * around them: a range of width 0 leaves Vega one tick, labelled with six decimals ("0.000000").
 */
function flatDomain(values: readonly number[], log: boolean): [number, number] | undefined {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0 || finite.some((v) => v !== finite[0])) return undefined;
  const v = finite[0]!;
  if (log) return [v / 2, v * 2];
  return v === 0 ? [0, 1] : [v - Math.abs(v) / 2, v + Math.abs(v) / 2];
}

/**
 * The step axis of a panel whose curves all sit at one step (a run evaluated once, at its end):
 * from 0 to that step, as the training-loss panel beside it, so the point reads as "evaluated at
 * step N" (flatDomain would centre it in a range around N that starts mid-run).
 */
function singleStepDomain(steps: readonly number[]): [number, number] | undefined {
  const flat = flatDomain(steps, false);
  if (!flat) return undefined;
  const step = steps.find(Number.isFinite)!;
  return step > 0 ? [0, step] : [0, 1];
}

/** Fewer evaluations than this in a series: its median is drawn with a point at each one. */
export const FEW_POINTS = 20;

// ---------------------------------------------------------------------------------------------
// Curves over steps: median line, IQR band, spike and divergence markers

export interface CurveSeries {
  readonly label: string;
  readonly band: readonly BandPoint[];
  readonly spikes: readonly EventPoint[];
  readonly diverged: readonly EventPoint[];
}

export interface CurvePanel {
  readonly title: string;
  readonly series: readonly CurveSeries[];
}

export interface CurveFigureInput {
  readonly id: string;
  readonly section: string;
  readonly title: string;
  readonly caption: string;
  readonly panels: readonly CurvePanel[];
  readonly yTitle: string;
  readonly xTitle?: string;
  readonly logY: boolean;
  readonly colours: ReadonlyMap<string, string>;
  /** The legend's title; "optimizer" by default. */
  readonly legendTitle?: string;
}

/** The figure, or null when no panel has a curve to draw. */
export function curveFigure(input: CurveFigureInput): Figure | null {
  const positive = (y: number) => !input.logY || y > 0;
  const rows: Spec[] = [];
  input.panels.forEach((panel, p) => {
    for (const s of panel.series) {
      for (const b of s.band) {
        if (!positive(b.median)) continue;
        // On a log axis a band edge at or below 0 is drawn at the median instead of vanishing.
        const q1 = positive(b.q1) ? b.q1 : b.median;
        rows.push({ k: 'band', p, o: s.label, x: round(b.step, 6), y: round(b.median), lo: round(q1), hi: round(b.q3), n: b.n });
      }
      for (const e of s.spikes) if (positive(e.value)) rows.push({ k: 'spike', p, o: s.label, x: e.step, y: round(e.value), seed: e.seed, note: e.note });
      for (const e of s.diverged) if (positive(e.value)) rows.push({ k: 'div', p, o: s.label, x: e.step, y: round(e.value), seed: e.seed, note: e.note });
    }
  });
  const colour = colourChannel(input.colours, input.legendTitle);
  const panels = input.panels.flatMap((panel, p) => {
    const mine = rows.filter((r) => r['p'] === p);
    // A panel whose runs evaluated once (a tuning run's final evaluation) has one step: give it a range.
    const flatX = singleStepDomain(mine.map((r) => Number(r['x'])));
    const x = {
      field: 'x',
      type: 'quantitative',
      title: input.xTitle ?? 'training step',
      // Steps are whole numbers: no tick between two of them (a short run's axis would read 0.5, 1.5).
      axis: { tickCount: 5, tickMinStep: 1, format: ',d' },
      // Padding keeps the lone points (drawn at the domain's end) clear of the panel's frame.
      ...(flatX ? { scale: { domain: flatX, nice: false, padding: 20 } } : {}),
    };
    const flat = flatDomain(mine.flatMap((r) => [r['y'], r['lo'], r['hi']].filter((v): v is number => typeof v === 'number')), input.logY);
    // One point per series: more room above and below, so none sits on the frame.
    const yPadding = flatX ? 24 : 6;
    const yScale = input.logY ? { type: 'log', nice: false, padding: yPadding } : { zero: false, nice: false, padding: yPadding };
    const y = { field: 'y', type: 'quantitative', title: input.yTitle, scale: flat ? { ...yScale, domain: flat } : yScale };
    const pick = `pick${p}`;
    const fade = { condition: { param: pick, value: 1 }, value: 0.12 };
    const only = (k: string) => [{ filter: `datum.k === '${k}' && datum.p === ${p}` }];
    // A panel with no curve (e.g. no run evaluated) is left out rather than drawn empty.
    if (!rows.some((r) => r['k'] === 'band' && r['p'] === p)) return [];
    // A layer with no rows would only make Vega warn about an empty extent.
    const has = (k: string) => rows.some((r) => r['k'] === k && r['p'] === p);
    // Series with few evaluations (an eval curve) get a point at each: a line between two points
    // would read as a trend.
    const few = panel.series.filter((s) => s.band.length > 0 && s.band.length < FEW_POINTS).map((s) => s.label);
    return [{
      title: panel.title,
      layer: [
        {
          name: `${MARKS.band}${p}`,
          transform: only('band'),
          mark: { type: 'area', opacity: 0.22, interpolate: 'linear' },
          encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color: colour, opacity: { condition: { param: pick, value: 0.22 }, value: 0.03 } },
        },
        {
          name: `${MARKS.median}${p}`,
          transform: only('band'),
          mark: { type: 'line', strokeWidth: 1.6, interpolate: 'linear' },
          params: [
            { name: `zoom${p}`, select: 'interval', bind: 'scales' },
            { name: pick, select: { type: 'point', fields: ['o'] }, bind: 'legend' },
          ],
          encoding: { x, y, color: colour, opacity: fade },
        },
        few.length > 0 && {
          name: `${MARKS.point}${p}`,
          transform: [...only('band'), { filter: { field: 'o', oneOf: few } }],
          // Larger when it is all the panel shows (one evaluation), so it reads at a glance.
          mark: { type: 'point', filled: true, size: flatX ? 80 : 30 },
          encoding: { x, y, color: colour, opacity: fade },
        },
        {
          // Invisible points along each curve carry its hover values (a line is one path, so
          // hovering it could only show one point's values). Left out of the static SVG files.
          name: `${HOVER_PREFIX}${p}`,
          transform: only('band'),
          mark: { type: 'point', filled: true, size: 70, opacity: 0 },
          encoding: {
            x,
            y,
            color: colour,
            tooltip: [
              { field: 'o', title: 'optimizer' },
              { field: 'x', title: 'step', format: '.0f' },
              { field: 'y', title: 'median', format: '.4~g' },
              { field: 'lo', title: 'q1', format: '.4~g' },
              { field: 'hi', title: 'q3', format: '.4~g' },
              { field: 'n', title: 'runs' },
            ],
          },
        },
        has('spike') && {
          name: `${MARKS.spike}${p}`,
          transform: only('spike'),
          mark: { type: 'point', shape: 'triangle-up', filled: true, size: 28 },
          encoding: { x, y, color: colour, opacity: fade, tooltip: eventTooltip },
        },
        has('div') && {
          name: `${MARKS.diverged}${p}`,
          transform: only('div'),
          mark: DIVERGED_MARK,
          encoding: { x, y, color: colour, opacity: fade, tooltip: eventTooltip },
        },
      ].filter(Boolean),
    }];
  });
  if (panels.length === 0) return null;
  return {
    id: input.id,
    section: input.section,
    title: input.title,
    caption: input.caption,
    spec: top(panels, rows, input.title, input.caption, input.title, 0, { resolve: { scale: { color: 'shared' } } }),
  };
}

const eventTooltip = [
  { field: 'o', title: 'optimizer' },
  { field: 'seed', title: 'seed' },
  { field: 'x', title: 'step' },
  { field: 'y', title: 'value', format: '.4~g' },
  { field: 'note', title: 'event' },
];

// ---------------------------------------------------------------------------------------------
// LR sensitivity: final eval loss against the LR, per optimizer

export interface LrPointRow {
  readonly lr: number;
  readonly loss: number;
  readonly diverged: number;
  readonly n: number;
}

export interface LrPanel {
  readonly title: string;
  readonly initialLoss: number;
  readonly series: readonly { label: string; grid: readonly LrPointRow[]; tunedLr: number }[];
}

export interface LrFigureInput {
  readonly id: string;
  readonly section: string;
  readonly title: string;
  readonly caption: string;
  readonly panels: readonly LrPanel[];
  readonly colours: ReadonlyMap<string, string>;
}

export function lrSensitivityFigure(input: LrFigureInput): Figure {
  const rows: Spec[] = [];
  input.panels.forEach((panel, p) => {
    rows.push({ k: 'init', p, y: round(panel.initialLoss), note: 'ℓ₀: loss at initialisation' });
    for (const s of panel.series) {
      for (const g of s.grid) {
        if (!(g.loss > 0)) continue;
        const tuned = g.lr === s.tunedLr;
        rows.push({
          k: 'grid',
          p,
          o: s.label,
          x: g.lr,
          y: round(g.loss),
          div: g.diverged,
          n: g.n,
          tuned,
          note: `${g.diverged}/${g.n} runs diverged${tuned ? '; tuned LR' : ''}`,
        });
      }
    }
  });
  const colour = colourChannel(input.colours);
  const x = { field: 'x', type: 'quantitative', title: 'learning rate (main group, log scale)', scale: { type: 'log' }, axis: { format: '~g', tickCount: 6 } };
  const y = { field: 'y', type: 'quantitative', title: 'final eval loss', scale: { type: 'log', nice: false, padding: 8 } };
  const tooltip = [
    { field: 'o', title: 'optimizer' },
    { field: 'x', title: 'LR', format: '.3~g' },
    { field: 'y', title: 'median eval loss', format: '.4~g' },
    { field: 'note', title: 'runs' },
  ];
  const panels = input.panels.map((panel, p) => {
    const pick = `pick${p}`;
    const fade = { condition: { param: pick, value: 1 }, value: 0.12 };
    const grid = (extra = '') => [{ filter: `datum.k === 'grid' && datum.p === ${p}${extra}` }];
    const mine = rows.filter((r) => r['k'] === 'grid' && r['p'] === p);
    const anyDiverged = mine.some((r) => Number(r['div']) > 0);
    const anyClean = mine.some((r) => r['div'] === 0);
    return {
      title: panel.title,
      layer: [
        {
          name: `${MARKS.initial}${p}`,
          transform: [{ filter: `datum.k === 'init' && datum.p === ${p}` }],
          mark: { type: 'rule', strokeDash: [4, 3], color: '#8a8a8a' },
          encoding: { y: { ...y, field: 'y' }, tooltip: [{ field: 'note', title: 'rule' }, { field: 'y', title: 'ℓ₀', format: '.4~g' }] },
        },
        {
          name: `${MARKS.median}${p}`,
          transform: grid(),
          mark: { type: 'line', strokeWidth: 1.6, point: false },
          params: [{ name: pick, select: { type: 'point', fields: ['o'] }, bind: 'legend' }],
          encoding: { x, y, color: colour, opacity: fade },
        },
        anyClean && {
          name: `${MARKS.point}${p}`,
          transform: grid(' && datum.div === 0'),
          mark: { type: 'point', filled: true, size: 36 },
          encoding: { x, y, color: colour, opacity: fade, tooltip },
        },
        anyDiverged && {
          name: `${MARKS.diverged}${p}`,
          transform: grid(' && datum.div > 0'),
          mark: DIVERGED_MARK,
          encoding: { x, y, color: colour, opacity: fade, tooltip },
        },
        {
          name: `${MARKS.tuned}${p}`,
          transform: grid(' && datum.tuned'),
          mark: { type: 'point', shape: 'circle', filled: false, size: 260, strokeWidth: 2 },
          encoding: { x, y, color: colour, opacity: fade, tooltip },
        },
      ].filter(Boolean),
    };
  });
  return {
    id: input.id,
    section: input.section,
    title: input.title,
    caption: input.caption,
    spec: top(panels, rows, input.title, input.caption, input.title),
  };
}

// ---------------------------------------------------------------------------------------------
// Rates against the LR multiplier, with bootstrap CIs

export interface RatePanel {
  readonly title: string;
  /** multiplier label ('1×') → optimizer label → mean and CI (null: no run to measure). */
  readonly cells: readonly { multiplier: string; label: string; ci: RateCI | null }[];
}

export interface RateFigureInput {
  readonly id: string;
  readonly section: string;
  readonly title: string;
  readonly caption: string;
  readonly yTitle: string;
  readonly panels: readonly RatePanel[];
  readonly multipliers: readonly string[];
  readonly colours: ReadonlyMap<string, string>;
  /** Fix the y range to [0, 1] (rates that are fractions). */
  readonly unitInterval?: boolean;
  /** Panels per row (e.g. one per detector); default: as many as fit the width.  */
  readonly columns?: number;
}

export function rateFigure(input: RateFigureInput): Figure {
  const rows: Spec[] = [];
  input.panels.forEach((panel, p) => {
    for (const c of panel.cells) {
      if (!c.ci) continue;
      rows.push({ p, m: c.multiplier, o: c.label, y: round(c.ci.mean), lo: round(c.ci.lo), hi: round(c.ci.hi), n: c.ci.n });
    }
  });
  const colour = colourChannel(input.colours);
  const x = { field: 'm', type: 'ordinal', title: 'LR multiplier (× tuned LR)', sort: input.multipliers, scale: { domain: input.multipliers }, axis: { labelAngle: 0 } };
  const xOffset = { field: 'o', type: 'nominal', scale: { domain: [...input.colours.keys()], paddingInner: 0.3 } };
  const yFor = (p: number) => {
    // All zero (no spike at any multiplier): 0 to 1, not a range of width 0 labelled "0.000000".
    const flat = flatDomain(rows.filter((r) => r['p'] === p).flatMap((r) => [Number(r['lo']), Number(r['hi'])]), false);
    return {
      field: 'y',
      type: 'quantitative',
      title: input.yTitle,
      scale: input.unitInterval ? { domain: [0, 1] } : flat ? { zero: true, domain: flat } : { zero: true },
    };
  };
  const tooltip = [
    { field: 'o', title: 'optimizer' },
    { field: 'm', title: 'LR' },
    { field: 'y', title: 'mean', format: '.3~g' },
    { field: 'lo', title: 'CI low', format: '.3~g' },
    { field: 'hi', title: 'CI high', format: '.3~g' },
    { field: 'n', title: 'runs' },
  ];
  const panels = input.panels.flatMap((panel, p) => {
    const pick = `pick${p}`;
    const fade = { condition: { param: pick, value: 1 }, value: 0.12 };
    const mine = [{ filter: `datum.p === ${p}` }];
    // Nothing to measure (e.g. every run diverged): no panel.
    if (!rows.some((r) => r['p'] === p)) return [];
    const y = yFor(p);
    return [{
      title: panel.title,
      layer: [
        {
          name: `${MARKS.interval}${p}`,
          transform: mine,
          mark: { type: 'rule', strokeWidth: 1.6 },
          encoding: { x, xOffset, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color: colour, opacity: fade, tooltip },
        },
        {
          name: `${MARKS.point}${p}`,
          transform: mine,
          mark: { type: 'point', filled: true, size: 44 },
          params: [{ name: pick, select: { type: 'point', fields: ['o'] }, bind: 'legend' }],
          encoding: { x, xOffset, y, color: colour, opacity: fade, tooltip },
        },
      ],
    }];
  });
  return {
    id: input.id,
    section: input.section,
    title: input.title,
    caption: input.caption,
    spec: top(panels, rows, input.title, input.caption, input.title, input.columns ?? 0),
  };
}
