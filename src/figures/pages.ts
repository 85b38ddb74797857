/**
 * What the commands write: a study's figures (SVG files, their Markdown, report.html) and the
 * pages of plain run folders (`view --html/--svg`, the page `npm start` prints).
 */
import { join } from 'node:path';
import type { LoadedRun } from '../train/run_dirs.js';
import type { StudyResults } from '../study/results.js';
import { renderHtmlPage } from './html.js';
import { writeFileAtomic } from '../train/run_files.js';
import { FIGURES_DIR, figuresMarkdown, writeSvgFigures, type WrittenFigure } from './output.js';
import { runFigures } from './run_figures.js';
import { studyFigures } from './study_figures.js';
import { VERDICT_SECTION } from './forest.js';
import { phaseSections } from '../study/report_format.js';
import { primaryNoiseChecks } from '../study/noise_section.js';
import { verdictLines, verdictTable } from '../study/verdict_section.js';

export const STUDY_HTML = 'report.html';

export interface StudyPages {
  /** Markdown that embeds the SVGs (links relative to the study folder), but the answer's. */
  readonly markdown: string;
  /** Markdown of the answer's figure (the forest plot), which REPORT.md shows first; '' without one. */
  readonly answerMarkdown: string;
  readonly htmlPath: string;
  readonly written: WrittenFigure[];
}

/** `<dir>/figures/*.svg` and `<dir>/report.html` for a study. */
export async function writeStudyPages(dir: string, r: StudyResults): Promise<StudyPages> {
  const figures = studyFigures(r);
  const phases = phaseSections(r);
  const ownSeeds = r.spec.tasks.some((t) => t.seeds !== undefined || t.seedsByArm !== undefined);
  const written = await writeSvgFigures(join(dir, FIGURES_DIR), figures);
  const htmlPath = join(dir, STUDY_HTML);
  writeFileAtomic(
    htmlPath,
    renderHtmlPage({
      title: `Stability study: ${r.spec.name}`,
      intro: [
        `${r.spec.description}. ${r.spec.treatment} (treatment) vs ${r.spec.baseline} (baseline) on ${r.spec.tasks.map((t) => t.experiment).join(', ')}; seeds ${r.spec.seeds.join(', ')}${ownSeeds ? ' for tuning (per task in REPORT.md)' : ''}; ${r.runsFound} of ${r.runsExpected} runs found.`,
        ...verdictLines(r),
        // The post-hoc notes under the verdicts (noise_section.ts), as REPORT.md has them there.
        ...primaryNoiseChecks(r).map((c) => c.note.replace(/^- /, '')),
        `The protocol, every exploratory endpoint with its interval${phases.length ? `, the exploratory sections of the study's phases (${phases.join(', ').toLowerCase()})` : ''}, and the limits are in REPORT.md next to this file.`,
      ],
      ...(verdictTable(r) ? { table: verdictTable(r)! } : {}),
      figures,
    }),
  );
  const answer = figures.filter((f) => f.section === VERDICT_SECTION);
  const rest = figures.filter((f) => f.section !== VERDICT_SECTION);
  return { markdown: figuresMarkdown(rest), answerMarkdown: answer.length ? figuresMarkdown(answer, undefined, '### Forest plot') : '', htmlPath, written };
}

/** The HTML page and/or SVG files of plain run folders. */
export async function writeRunPages(runs: readonly LoadedRun[], out: { html?: string; svgDir?: string }): Promise<WrittenFigure[]> {
  const figures = runFigures(runs);
  const written = out.svgDir !== undefined ? await writeSvgFigures(out.svgDir, figures) : [];
  if (out.html !== undefined) {
    const experiments = [...new Set(runs.map((r) => r.config.experiment))];
    writeFileAtomic(
      out.html,
      renderHtmlPage({
        title: `Runs: ${experiments.join(', ')}`,
        intro: [`${runs.length} runs from ${[...new Set(runs.map((r) => r.dir.replace(/[/\\][^/\\]+$/, '')))].join(', ')}.`],
        figures,
      }),
    );
  }
  return written;
}
