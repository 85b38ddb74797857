/**
 * Figures to files: one SVG per figure (written atomically, so an interrupted report leaves no
 * half-written picture) and the Markdown that embeds them with relative links, so REPORT.md renders
 * with its pictures on GitHub and from disk.
 */
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../train/run_files.js';
import { renderSvg } from './render.js';
import type { Figure } from './specs.js';

/** Folder of the SVG files, relative to the report. */
export const FIGURES_DIR = 'figures';

export interface WrittenFigure {
  readonly figure: Figure;
  /** The SVG file's path. */
  readonly path: string;
  readonly warnings: readonly string[];
}

export const svgFileName = (f: Figure) => `${f.id}.svg`;

/** Render every figure to `<folder>/<id>.svg` (the folder is created). */
export async function writeSvgFigures(folder: string, figures: readonly Figure[]): Promise<WrittenFigure[]> {
  ensureDir(folder);
  const out: WrittenFigure[] = [];
  for (const figure of figures) {
    const { svg, warnings } = await renderSvg(figure.spec);
    const path = join(folder, svgFileName(figure));
    writeFileAtomic(path, svg);
    out.push({ figure, path, warnings });
  }
  return out;
}

/**
 * Markdown for the figures: a heading, then per figure its title, the image linked relative to
 * the Markdown file (`relDir`/<id>.svg) and its caption.
 */
export function figuresMarkdown(figures: readonly Figure[], relDir = FIGURES_DIR, heading = '## Figures'): string {
  if (figures.length === 0) return '';
  const parts = [heading, '', 'The same figures, interactive (hover for values, drag or scroll to zoom curves, click a legend entry to show one series), are in `report.html` next to this file.', ''];
  for (const f of figures) {
    parts.push(`### ${f.title}`, '', `![${f.title}](${relDir}/${svgFileName(f)})`, '', `*${f.caption}*`, '');
  }
  return parts.join('\n');
}
