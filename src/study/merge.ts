/**
 * Join shard outputs into one study folder. Shards of one study hold identical study.json files;
 * a run present in several shards (a tuning run that two shards both needed) must be the same run
 * (same config hash) and is kept once. Unfinished runs never overwrite finished ones. Shards from
 * different backends or git commits are refused unless forced. Shards that cannot be merged are
 * the user's to fix (UsageError); a full disk or a busy folder keeps its own error.
 */
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { RunSummary } from '../train/run.js';
import { CONFIG_FILE, ensureDir, readJSON, writeJSONAtomic } from '../train/run_files.js';
import { loadSummary, readSummary, warnToStderr } from '../train/run_readers.js';
import { LOCK_FILE, lockFolder } from '../train/lock.js';
import { readStudyFile, RUNS_DIR, STUDY_FILE, type StudyFile } from './study.js';
import { UsageError } from '../errors.js';

export interface MergeResult {
  readonly copied: number;
  readonly duplicates: number;
  readonly unfinishedSkipped: number;
}

/** A run's summary; a damaged one counts as unfinished (one warning): it is never copied as finished. */
function summaryOf(runDir: string, warn: (line: string) => void): RunSummary | undefined {
  return loadSummary(runDir, warn, 'the run counts as unfinished');
}

/** The git commit a run folder's config.json records (null outside a git checkout or when unreadable). */
function commitOf(runDir: string): string | null {
  try {
    const c = readJSON<{ provenance?: { gitCommit?: unknown } }>(join(runDir, CONFIG_FILE));
    return typeof c.provenance?.gitCommit === 'string' ? c.provenance.gitCommit : null;
  } catch {
    return null;
  }
}

/**
 * Shards computed on different backends, or by different code (git commit), do not give the
 * numbers one study would: refuse them unless forced. Lists each value with a folder that has it.
 */
function checkSameProvenance(sources: readonly string[]): void {
  const backends = new Map<string, string>();
  const commits = new Map<string, string>();
  for (const src of sources) {
    const runsDir = join(src, RUNS_DIR);
    if (!existsSync(runsDir)) continue;
    for (const name of readdirSync(runsDir).sort()) {
      const runDir = join(runsDir, name);
      const s = readSummary(runDir);
      if (s.kind !== 'ok') continue;
      if (!backends.has(s.summary.backend)) backends.set(s.summary.backend, src);
      const commit = commitOf(runDir);
      if (commit && !commits.has(commit)) commits.set(commit, src);
    }
  }
  const list = (m: Map<string, string>, short: (k: string) => string) => [...m].map(([k, src]) => `${short(k)} in ${src}`).join(', ');
  if (backends.size > 1) {
    throw new UsageError(`merge: the shards ran on different backends (${list(backends, (k) => k)}), whose numbers differ slightly; rerun them on one backend, or merge anyway with --force`);
  }
  if (commits.size > 1) {
    throw new UsageError(`merge: the shards ran different code versions (git commits ${list(commits, (k) => k.slice(0, 10))}); rerun them on one commit, or merge anyway with --force`);
  }
}

export function mergeStudies(
  sources: readonly string[],
  out: string,
  options: { force?: boolean; warn?: (line: string) => void } = {},
): MergeResult {
  const warn = options.warn ?? warnToStderr;
  if (sources.length === 0) throw new UsageError('merge: give at least one study folder');
  if (!options.force) checkSameProvenance(sources);
  let study: StudyFile | undefined;
  for (const src of sources) {
    const p = join(src, STUDY_FILE);
    if (!existsSync(p)) throw new UsageError(`merge: ${src} has no ${STUDY_FILE}; is it a study folder?`);
    const s = readStudyFile(p);
    if (study && JSON.stringify(s) !== JSON.stringify(study)) {
      throw new UsageError(`merge: ${src} belongs to a different study than ${sources[0]} (${STUDY_FILE} differs)`);
    }
    study ??= s;
  }
  if (existsSync(join(out, STUDY_FILE)) && JSON.stringify(readStudyFile(join(out, STUDY_FILE))) !== JSON.stringify(study)) {
    throw new UsageError(`merge: ${out} already holds a different study`);
  }
  ensureDir(join(out, RUNS_DIR));
  const lock = lockFolder(out, 'study folder');
  try {
    return copyRuns(sources, out, study!, warn);
  } finally {
    lock.release();
  }
}

function copyRuns(sources: readonly string[], out: string, study: StudyFile, warn: (line: string) => void): MergeResult {
  writeJSONAtomic(join(out, STUDY_FILE), study);
  let copied = 0;
  let duplicates = 0;
  let unfinishedSkipped = 0;
  for (const src of sources) {
    const runsDir = join(src, RUNS_DIR);
    if (!existsSync(runsDir)) continue;
    for (const name of readdirSync(runsDir).sort()) {
      const from = join(runsDir, name);
      const to = join(out, RUNS_DIR, name);
      const incoming = summaryOf(from, warn);
      const existing = existsSync(to) ? summaryOf(to, warn) : undefined;
      if (existing && incoming) {
        if (existing.configHash !== incoming.configHash) {
          throw new UsageError(`merge: run ${name} differs between shards (config hash ${existing.configHash} vs ${incoming.configHash})`);
        }
        duplicates++;
        continue;
      }
      if (existing || (!incoming && existsSync(to))) {
        if (!incoming) unfinishedSkipped++;
        continue;
      }
      if (existsSync(to)) rmSync(to, { recursive: true, force: true });
      // A lock or temp file left by a killed process means nothing in the merged folder.
      cpSync(from, to, { recursive: true, filter: (p) => basename(p) !== LOCK_FILE && !basename(p).includes('.tmp-') });
      if (incoming) copied++;
      else unfinishedSkipped++;
    }
  }
  return { copied, duplicates, unfinishedSkipped };
}
