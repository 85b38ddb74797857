/** `report` (`npm run report`): analyse a study folder and write REPORT.md, its figures and report.html. */
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { writeStudyPages } from '../../figures/pages.js';
import { analyzeStudy } from '../../study/analyze.js';
import { renderReport } from '../../study/report.js';
import { reportWarnings, type RegisterCommand } from '../session.js';

export async function reportCommand(dir: string): Promise<0> {
  if (!existsSync(dir)) throw new UsageError(`${dir}: no such folder`);
  // A folder the analysis cannot read (no study.json, a damaged one) is a UsageError from the study room.
  const results = analyzeStudy(dir);
  const pages = await writeStudyPages(dir, results);
  reportWarnings(pages.written);
  const text = renderReport(results, pages.markdown);
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
