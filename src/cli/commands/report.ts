/** `report` (`npm run report`): analyse a study folder and write REPORT.md, its figures and report.html. */
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { writeStudyPages } from '../../figures/pages.js';
import { analyzeStudy } from '../../study/analyze.js';
import type { StudyResults } from '../../study/results.js';
import { renderReport } from '../../study/report.js';
import { reportWarnings, type RegisterCommand } from '../session.js';

async function reportCommand(dir: string): Promise<0> {
  if (!existsSync(dir)) throw new UsageError(`${dir}: no such folder`);
  let results: StudyResults;
  try {
    results = analyzeStudy(dir);
  } catch (e) {
    // The analysis throws plain errors for a folder it cannot read (no study.json, a damaged file):
    // the user's to fix. It should throw them typed; until then they are mapped here, by type, never by text.
    throw new UsageError((e as Error).message);
  }
  const pages = await writeStudyPages(dir, results);
  reportWarnings(pages.written);
  const text = renderReport(results, pages.markdown, pages.answerMarkdown);
  const path = join(dir, 'REPORT.md');
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
  console.log(text);
  console.error(`written: ${path}, ${pages.htmlPath} and ${pages.written.length} figures in ${join(dir, 'figures')}`);
  return 0;
}

export const registerReport: RegisterCommand = (program, exit) => {
  program
    .command('report')
    .description('analyse a study folder: write REPORT.md, figures/*.svg and the self-contained report.html into it; print REPORT.md')
    .argument('<dir>', 'study folder')
    .action(async (dir: string) => exit(await reportCommand(dir)));
};
