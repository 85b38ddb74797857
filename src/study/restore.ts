/**
 * A published bundle (bundle.ts) reopened as a study folder: study.json, and for every bundled run
 * runs/<name>/summary.json and, for the runs with per-step records, their digest (digest.json).
 *
 * Why: a bundle is the only study artefact small enough to commit, so on machines whose sessions
 * keep nothing but what is committed, a long study carries over from one sitting to the next as a
 * bundle. Restored into a folder, the study command skips every restored run (a run counts as done
 * when summary.json holds its planned config's hash and the backend, train/run.ts completedSummary),
 * the ladder plans its next rung from the restored summaries, and only the rest is run. The
 * analysis reads the folder as it would the bundle (collect.ts reads summary.json and digest.json).
 *
 * What a restored run lacks: config.json, the checkpoint and metrics.jsonl (not in a bundle; the
 * digest is what the analysis reads of the records). So the report of a finished
 * study is the one of the same study run in one go, and publishing it again gives the same bundle
 * data for the restored runs; `view` and `sample`, which need config.json or checkpoints, do not
 * apply to restored runs (restoredRunsNote says so).
 *
 * Never overwritten: a run already finished in the folder (restoring twice changes nothing). An
 * unfinished run there (a checkpoint without summary.json) is replaced by the bundle's finished one.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { CONFIG_FILE, ensureDir, SUMMARY_FILE, writeJSONAtomic } from '../train/run_files.js';
import { DIGEST_FILE } from './bundle_files.js';
import { readSummary, warnToStderr } from '../train/run_readers.js';
import { lockFolder } from '../train/lock.js';
import { isBundle, loadBundle } from './bundle.js';
import { assertSameStudy, RUNS_DIR, STUDY_FILE } from './study.js';

export interface RestoreResult {
  /** The study's name (its spec's). */
  readonly study: string;
  /** Runs written from the bundle. */
  readonly restored: number;
  /** Runs already finished in the folder, left as they were. */
  readonly kept: number;
  /** Backends the bundled runs ran on, sorted: the study skips them only on the same backend. */
  readonly backends: readonly string[];
}

/** The refusals, before anything is written: each a one-line UsageError naming the folder. */
function checkFolders(bundle: string, out: string): void {
  if (!existsSync(bundle)) throw new UsageError(`${bundle}: no such folder`);
  if (!isBundle(bundle)) throw new UsageError(`${bundle}: not a results bundle (no bundle.json); publish a study folder to make one`);
  if (resolve(out) === resolve(bundle)) throw new UsageError(`${out}: must differ from the bundle folder`);
  if (isBundle(out)) throw new UsageError(`${out}: is a results bundle, not a study folder; choose an empty or new folder`);
  // A folder with files but no study.json is not a study: it may be a mistyped path.
  if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(join(out, STUDY_FILE))) {
    throw new UsageError(`${out}: exists and is not a study folder (no ${STUDY_FILE}); choose an empty or new folder`);
  }
}

/**
 * Write the bundle at `bundle` into the study folder `out` (created). A folder that holds another
 * study is refused (its study.json differs), as the study command refuses it.
 */
export function restoreBundle(bundle: string, out: string, warn: (line: string) => void = warnToStderr): RestoreResult {
  checkFolders(bundle, out);
  const loaded = loadBundle(bundle);
  ensureDir(out);
  // One writer per study folder: a study running in `out` must not see runs appear under it.
  const lock = lockFolder(out, 'study folder');
  try {
    // Before runs/ exists: a folder holding another study is left as it was.
    assertSameStudy(out, { spec: loaded.spec, experiments: { ...loaded.experiments } });
    ensureDir(join(out, RUNS_DIR));
    let restored = 0;
    let kept = 0;
    for (const run of loaded.runs.values()) {
      const dir = join(out, RUNS_DIR, run.name);
      const present = readSummary(dir);
      if (present.kind === 'ok') {
        kept++;
        const s = present.summary;
        if (s.configHash !== run.summary.configHash || s.backend !== run.summary.backend) {
          warn(`${dir}: finished run kept; the bundle's differs (config hash ${run.summary.configHash}, backend ${run.summary.backend})`);
        }
        continue;
      }
      // An unfinished or damaged run: its checkpoint and metrics belong to a run the bundle has finished.
      rmSync(dir, { recursive: true, force: true });
      ensureDir(dir);
      if (run.digest) writeJSONAtomic(join(dir, DIGEST_FILE), run.digest);
      // Last, as a run writes it: summary.json is the mark of a finished run.
      writeJSONAtomic(join(dir, SUMMARY_FILE), run.summary);
      restored++;
    }
    const backends = [...new Set([...loaded.runs.values()].map((r) => r.summary.backend))].sort();
    return { study: loaded.spec.name, restored, kept, backends };
  } finally {
    lock.release();
  }
}

/**
 * Why `view` or `sample` cannot use `path`, when it is a restored run (summary.json, no config.json)
 * or a study folder whose runs are all restored: a line that says so and names the report, which
 * draws their curves from the digests. Undefined for anything else.
 */
export function restoredRunsNote(path: string): string | undefined {
  const isRestoredRun = (dir: string) => existsSync(join(dir, SUMMARY_FILE)) && !existsSync(join(dir, CONFIG_FILE));
  if (isRestoredRun(path)) {
    const study = dirname(dirname(resolve(path)));
    const where = existsSync(join(study, STUDY_FILE)) ? study : '<study folder>';
    return `${path}: a run restored from a results bundle keeps its summary and digest, not its per-step records or checkpoint; its study's report draws its curves: npm run report -- ${where}`;
  }
  const runs = join(path, RUNS_DIR);
  if (!existsSync(join(path, STUDY_FILE)) || !existsSync(runs)) return undefined;
  const names = readdirSync(runs);
  if (names.length === 0 || !names.every((n) => isRestoredRun(join(runs, n)))) return undefined;
  return `${path}: a study restored from a results bundle keeps no per-step records; its report draws the curves: npm run report -- ${path}`;
}
