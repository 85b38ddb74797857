/**
 * `publish` (`npm run sandbox -- publish STUDY --out results/NAME`): write a study's compact results
 * bundle (study/bundle.ts), then REPORT.md, figures/*.svg, report.html and primary.json made from the
 * bundle alone, so what is published is exactly what `npm run report -- results/NAME` regenerates.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { isBundle, writeBundle } from '../../study/bundle.js';
import { loadStudy, type LoadedStudy } from '../../study/collect.js';
import { count } from '../../text/plural.js';
import { flag, withOptions } from '../flags.js';
import type { RegisterCommand } from '../session.js';
import { analyzeFolder, writeReport } from './report.js';

/** Bytes of the files under `path`. */
function folderBytes(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((a, e) => a + folderBytes(join(path, e)), 0);
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

async function publishCommand(dir: string, flags: { out: string }): Promise<0> {
  if (!existsSync(dir)) throw new UsageError(`${dir}: no such folder`);
  if (isBundle(dir)) throw new UsageError(`${dir}: already a bundle; run \`npm run report -- ${dir}\` to regenerate its report`);
  const out = flags.out;
  if (resolve(out) === resolve(dir)) throw new UsageError(`--out ${out}: must differ from the study folder`);
  // Never write over something that is not a bundle: --out may be mistyped as another study.
  if (existsSync(out) && readdirSync(out).length > 0 && !isBundle(out)) {
    throw new UsageError(`--out ${out}: exists and is not a bundle; choose an empty or new folder`);
  }
  let loaded: LoadedStudy;
  try {
    loaded = loadStudy(dir);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { bytes } = writeBundle(out, loaded);
  // The report is made from the bundle just written, not from the folder: a bundle that lost
  // something the report needs shows here, and the published files are the bundle's own.
  await writeReport(out, analyzeFolder(out));
  console.error(
    `published ${dir} → ${out}: ${count(loaded.runs.size, 'run')}; data ${mb(bytes)} (the study folder holds ${mb(folderBytes(dir))}), bundle with report and figures ${mb(folderBytes(out))}`,
  );
  return 0;
}

export const registerPublish: RegisterCommand = (program, exit) => {
  withOptions(
    program
      .command('publish')
      .description(
        "write a compact results bundle of a study folder (study.json, run summaries, the per-step fields the report reads) with REPORT.md, figures, report.html and primary.json (the verdicts' data, for verify-bundle) made from it",
      )
      .argument('<dir>', 'study folder'),
    flag.out('bundle folder, e.g. results/NAME').makeOptionMandatory(),
  ).action(async (dir: string, flags: { out: string }) => exit(await publishCommand(dir, flags)));
};
