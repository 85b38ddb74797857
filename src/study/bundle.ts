/**
 * A published results bundle: a study's loaded data (collect.ts's LoadedStudy) written compactly, so
 * the analysis, REPORT.md, the figures and report.html can be regenerated from it alone, without the
 * run folders (their checkpoints, configs and per-step records are most of a study's size).
 *
 * Layout of a bundle folder's data:
 *   bundle.json      format name, version, study.json's content;
 *   runs.json.gz     every run the analysis found (gzip of a JSON array, in load order): folder
 *                    name, summary.json as it was, and for the runs with per-step records their
 *                    digest (digest.ts), which is all the analysis reads of records.
 *
 * Because the analysis reads digests, never records, the report from a bundle is the report from
 * the study folder, byte for byte, through one code path; and a bundle's size grows with the number
 * of runs, not with their length (≈ 1–2 kB per run once compressed).
 *
 * Beside these two, `report` on a bundle (and so `publish`) writes primary.json (primary_format.ts):
 * the primary family's per-run samples, p's, Holm decisions and verdicts, from which `verify-bundle`
 * (rederive.ts) re-derives every verdict with its own implementation of the tests.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { UsageError } from '../errors.js';
import type { RunSummary } from '../train/run.js';
import { ensureDir, writeFileAtomic, writeJSONAtomic } from '../train/run_files.js';
import { loadStudy, type LoadedStudy, type StudyRun } from './collect.js';
import type { RunDigest } from './digest.js';
import type { StudyFile } from './study.js';
import { BUNDLE_FILE, BUNDLE_RUNS_FILE } from './bundle_files.js';

export { BUNDLE_FILE, BUNDLE_RUNS_FILE };

export const BUNDLE_FORMAT = 'optimizer-sandbox study bundle';
/** Bumped whenever a reader of an older bundle would misread a newer one (2: digests instead of records). */
export const BUNDLE_VERSION = 2;

/** A bundle that cannot be read: the user's to fix (publish again, or use a matching checkout). */
export class BundleError extends UsageError {
  override name = 'BundleError';
}

interface BundleHeader {
  readonly format: string;
  readonly version: number;
  readonly study: StudyFile;
}

interface BundledRun {
  readonly name: string;
  readonly summary: RunSummary;
  readonly digest?: RunDigest;
}

/** True when `dir` holds a bundle (as opposed to a study folder). */
export const isBundle = (dir: string) => existsSync(join(dir, BUNDLE_FILE));

/** Write a loaded study as a bundle into `dir` (created): every run's summary, and its digest when it has one. */
export function writeBundle(dir: string, loaded: LoadedStudy): { bytes: number } {
  ensureDir(dir);
  const runs: BundledRun[] = [...loaded.runs.values()].map((r) => ({ name: r.name, summary: r.summary, ...(r.digest ? { digest: r.digest } : {}) }));
  // A fixed level and no file name or time in the gzip header: the same study gives the same bytes.
  const gz = gzipSync(Buffer.from(JSON.stringify(runs)), { level: 9 });
  writeFileAtomic(join(dir, BUNDLE_RUNS_FILE), gz);
  const header: BundleHeader = { format: BUNDLE_FORMAT, version: BUNDLE_VERSION, study: { spec: loaded.spec, experiments: { ...loaded.experiments } } };
  writeJSONAtomic(join(dir, BUNDLE_FILE), header);
  return { bytes: gz.length + readFileSync(join(dir, BUNDLE_FILE)).length };
}

/**
 * A bundle from its two files' text (bundle.json, and runs.json.gz once decompressed), without I/O:
 * what `loadBundle` reads from disk and the playground from files the visitor opened. `where`
 * names the two files in errors.
 */
export function parseBundle(headerText: string, runsText: () => string, where: { readonly header: string; readonly runs: string }): LoadedStudy {
  let header: BundleHeader;
  try {
    header = JSON.parse(headerText) as BundleHeader;
  } catch (e) {
    throw new BundleError(`${where.header}: damaged (${(e as Error).message.split('\n', 1)[0]}); publish the study again`);
  }
  if (typeof header !== 'object' || header === null || header.format !== BUNDLE_FORMAT) {
    throw new BundleError(`${where.header}: not a study bundle (no "format": "${BUNDLE_FORMAT}")`);
  }
  if (header.version !== BUNDLE_VERSION) {
    throw new BundleError(`${where.header}: bundle version ${String(header.version)}, this code reads version ${BUNDLE_VERSION}; use a matching checkout`);
  }
  let runs: Map<string, StudyRun>;
  try {
    const bundled = JSON.parse(runsText()) as BundledRun[];
    if (!Array.isArray(bundled)) throw new Error('not a list of runs');
    runs = new Map<string, StudyRun>(
      bundled.map((b) => [b.name, { name: b.name, summary: b.summary, digest: b.digest }]),
    );
  } catch (e) {
    throw new BundleError(`${where.runs}: damaged (${(e as Error).message.split('\n', 1)[0]}); publish the study again`);
  }
  return { spec: header.study.spec, experiments: header.study.experiments, runs };
}

/** The second implementation of the collect step: the same LoadedStudy, read from a bundle folder. */
export function loadBundle(dir: string): LoadedStudy {
  const header = join(dir, BUNDLE_FILE);
  const runs = join(dir, BUNDLE_RUNS_FILE);
  let headerText: string;
  try {
    headerText = readFileSync(header, 'utf8');
  } catch (e) {
    throw new BundleError(`${header}: unreadable (${(e as Error).message.split('\n', 1)[0]})`);
  }
  // The data file is read (and decompressed) only once the header is known to be a readable version.
  return parseBundle(headerText, () => gunzipSync(readFileSync(runs)).toString('utf8'), { header, runs });
}

/** A study folder or a bundle, whichever `dir` is. */
export const loadStudyOrBundle = (dir: string): LoadedStudy => (isBundle(dir) ? loadBundle(dir) : loadStudy(dir));
