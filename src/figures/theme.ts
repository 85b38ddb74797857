/**
 * Vega-Lite config for the figures. Backgrounds are transparent and text, axes and grid are grey
 * mid-tones, so one SVG file reads on a light page and on a dark one (GitHub renders both). The
 * HTML page picks 'light' or 'dark' from prefers-color-scheme for crisper text.
 */
export type Theme = 'neutral' | 'light' | 'dark';

export const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif';

const INK: Record<Theme, { text: string; grid: string; domain: string }> = {
  neutral: { text: '#7d7d7d', grid: '#8080803d', domain: '#8a8a8a' },
  light: { text: '#3b3b3b', grid: '#e4e4e4', domain: '#9a9a9a' },
  dark: { text: '#d2d2d2', grid: '#3a3a3a', domain: '#777777' },
};

/**
 * How a figure's panels fill a given width: the number of columns, each panel's plot size and
 * the legend's columns. Written once as JavaScript source because it runs in two places: in Node
 * for the SVG files (at STATIC_FIGURE_WIDTH) and in report.html/runs.html, where each chart is
 * laid out to its container's width and again when the window is resized.
 *
 * Columns: as many panels as fit at MIN_PANEL px (plus the y axis and the spacing), then balanced
 * over the rows (4 panels that fit 3 to a row become 2 × 2, not 3 + 1), unless the figure fixes
 * them (rows × columns as task × detector). Height follows the width (about half of it), within
 * bounds that keep the axis titles readable and a row of panels on one screen.
 */
export const LAYOUT_JS = `function (width, count, fixedColumns) {
  var AXIS = 56, SPACING = 28, MIN_PANEL = 230, LEGEND_COLUMN = 150;
  var fit = Math.max(1, Math.floor((width + SPACING) / (MIN_PANEL + AXIS + SPACING)));
  var columns = fixedColumns > 0 ? fixedColumns : Math.min(count, fit);
  columns = Math.max(1, fixedColumns > 0 ? columns : Math.ceil(count / Math.ceil(count / columns)));
  var panel = Math.max(120, Math.floor((width - columns * AXIS - (columns - 1) * SPACING) / columns));
  var height = Math.round(Math.min(360, Math.max(190, panel * 0.5)));
  return { columns: columns, width: panel, height: height, legendColumns: Math.max(1, Math.floor(width / LEGEND_COLUMN)) };
}`;

export interface PanelLayout {
  readonly columns: number;
  /** Plot width and height of each panel, in px (axes and titles come on top). */
  readonly width: number;
  readonly height: number;
  readonly legendColumns: number;
}

// Evaluated from its source so that Node and the page run the very same function.
export const panelLayout = new Function(`return (${LAYOUT_JS});`)() as (width: number, count: number, fixedColumns?: number) => PanelLayout;

/**
 * The width the SVG files are laid out for: about the text column of a Markdown page on GitHub,
 * where REPORT.md shows them (wider files are scaled down there, which shrinks their text).
 */
export const STATIC_FIGURE_WIDTH = 980;

/** legendColumns: how many legend entries fit side by side (see panelLayout). */
export function figureConfig(theme: Theme, legendColumns = panelLayout(STATIC_FIGURE_WIDTH, 1).legendColumns): Record<string, unknown> {
  const ink = INK[theme];
  return {
    background: null,
    font: FONT,
    view: { stroke: ink.grid },
    axis: {
      labelColor: ink.text,
      titleColor: ink.text,
      domainColor: ink.domain,
      tickColor: ink.domain,
      gridColor: ink.grid,
      labelFontSize: 10,
      titleFontSize: 11,
      titleFontWeight: 'normal',
    },
    // Above the panels, in as many columns as fit: a legend beside them would take width from the
    // plots and, in a row that is too wide, be cut off at the page's edge.
    legend: {
      orient: 'top',
      direction: 'horizontal',
      columns: legendColumns,
      labelLimit: 140,
      labelColor: ink.text,
      titleColor: ink.text,
      labelFontSize: 11,
      titleFontSize: 11,
      titleFontWeight: 'normal',
    },
    title: { color: ink.text, subtitleColor: ink.text, fontSize: 12, subtitleFontSize: 11, fontWeight: 'bold', subtitlePadding: 4 },
    header: { labelColor: ink.text, titleColor: ink.text },
    concat: { spacing: 28 },
  };
}
