/** `view` (`npm run view`): re-draw saved runs without training; optionally write them as HTML or SVG. */
import { Option } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { writeRunPages } from '../../figures/pages.js';
import { chartFlags, resolveView, withOptions, type ChartFlags } from '../flags.js';
import { findRunDirs, loadRuns, renderRuns } from '../runs_view.js';
import { reportWarnings, type RegisterCommand } from '../session.js';
import { restoredRunsNote } from '../../study/restore.js';

interface ViewFlags extends ChartFlags {
  html?: string;
  svg?: string;
}

/** Checked before anything is written: the page's folder must exist, an SVG folder must not be a file. */
function checkOutputs(flags: ViewFlags): void {
  if (flags.html !== undefined && !(existsSync(dirname(resolve(flags.html))) && statSync(dirname(resolve(flags.html))).isDirectory())) {
    throw new UsageError(`--html ${flags.html}: folder ${dirname(flags.html)} does not exist`);
  }
  if (flags.html !== undefined && existsSync(flags.html) && statSync(flags.html).isDirectory()) {
    throw new UsageError(`--html ${flags.html}: is a folder; give a file name, e.g. ${join(flags.html, 'runs.html')}`);
  }
  if (flags.svg !== undefined && existsSync(flags.svg) && !statSync(flags.svg).isDirectory()) {
    throw new UsageError(`--svg ${flags.svg}: exists and is not a folder`);
  }
}

async function viewCommand(dirs: readonly string[], flags: ViewFlags): Promise<0> {
  const view = resolveView(flags);
  checkOutputs(flags);
  for (const d of dirs) {
    const note = restoredRunsNote(d);
    if (note) throw new UsageError(note);
  }
  const runs = loadRuns(findRunDirs(dirs));
  console.log(renderRuns(runs, view));
  if (flags.html === undefined && flags.svg === undefined) return 0;
  const written = await writeRunPages(runs, { ...(flags.html !== undefined ? { html: flags.html } : {}), ...(flags.svg !== undefined ? { svgDir: flags.svg } : {}) });
  reportWarnings(written);
  if (flags.html !== undefined) console.error(`written: ${resolve(flags.html)}`);
  if (flags.svg !== undefined) console.error(`written: ${written.length} SVG figures in ${flags.svg}`);
  return 0;
}

export const registerView: RegisterCommand = (program, exit) => {
  withOptions(
    program
      .command('view')
      .description('re-draw saved runs (run folders, or folders containing them) without training')
      .argument('<dirs...>', 'run directories or their parent folders'),
    ...chartFlags(),
    new Option('--html <file>', 'also write one self-contained interactive HTML page of the figures (opens offline)'),
    new Option('--svg <dir>', 'also write each figure as an SVG file into this folder (created if missing)'),
  ).action(async (dirs: string[], flags: ViewFlags) => exit(await viewCommand(dirs, flags)));
};
