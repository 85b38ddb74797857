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

/** Width of one panel in pixels; a figure has up to four panels side by side. */
export const PANEL_WIDTH = 250;
/** Tall enough that a y-axis title with its unit fits beside the plot (a longer one pushes the panel down). */
export const PANEL_HEIGHT = 190;

export function figureConfig(theme: Theme): Record<string, unknown> {
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
    legend: { labelColor: ink.text, titleColor: ink.text, labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal' },
    title: { color: ink.text, subtitleColor: ink.text, fontSize: 12, subtitleFontSize: 11, fontWeight: 'bold', subtitlePadding: 4 },
    header: { labelColor: ink.text, titleColor: ink.text },
    concat: { spacing: 28 },
  };
}
