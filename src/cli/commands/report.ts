/** `report` (`npm run report`): analyse a study folder or a published bundle and write REPORT.md, its figures and report.html. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { writeStudyPages } from '../../figures/pages.js';
import { analyzeStudy } from '../../study/analyze.js';
import { isBundle } from '../../study/bundle.js';
import { REPORT_FILE } from '../../study/bundle_files.js';
import { writePrimaryFile } from '../../study/primary_export.js';
import type { StudyResults } from '../../study/results.js';
import { renderReport } from '../../study/report.js';
import { writeFileAtomic } from '../../train/run_files.js';
import { reportWarnings, type RegisterCommand } from '../session.js';

/** A study folder's or a bundle's analysis; a folder it cannot read is the user's to fix (one line, exit 2). */
export function analyzeFolder(dir: string): StudyResults {
  if (!existsSync(dir)) throw new UsageError(`${dir}: no such folder`);
  // A folder the analysis cannot read (no study.json, a damaged one, a damaged bundle) is a
  // UsageError from the study room, thrown where the fault is found.
  return analyzeStudy(dir);
}

/**
 * REPORT.md, figures/*.svg and report.html into `dir`, and in a bundle primary.json beside them (the
 * primary family's samples and verdicts, for `verify-bundle`); returns REPORT.md's text.
 */
export async function writeReport(dir: string, results: StudyResults): Promise<string> {
  // Written with the report from the same analysis, so the two can never describe different verdicts.
  const primary = isBundle(dir) ? [writePrimaryFile(dir, results)] : [];
  const pages = await writeStudyPages(dir, results);
  reportWarnings(pages.written);
  const text = renderReport(results, pages.markdown, pages.answerMarkdown);
  const path = join(dir, REPORT_FILE);
  writeFileAtomic(path, text);
  console.error(`written: ${[path, ...primary].join(', ')}, ${pages.htmlPath} and ${pages.written.length} figures in ${join(dir, 'figures')}`);
  return text;
}

export async function reportCommand(dir: string): Promise<0> {
  const text = await writeReport(dir, analyzeFolder(dir));
  console.log(text);
  return 0;
}

export const registerReport: RegisterCommand = (program, exit) => {
  program
    .command('report')
    .description(
      'analyse a study folder or a published bundle (see publish): write REPORT.md, figures/*.svg and the self-contained report.html into it; print REPORT.md',
    )
    .argument('<dir>', 'study folder or bundle folder')
    .action(async (dir: string) => exit(await reportCommand(dir)));
};
