/**
 * Join shard outputs into one study folder. Shards of one study hold identical study.json files;
 * a run present in several shards (a tuning run that two shards both needed) must be the same run
 * (same config hash) and is kept once. Unfinished runs never overwrite finished ones.
 */
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSummary } from '../train/run.js';
import { SUMMARY_FILE, ensureDir, readJSON, writeJSONAtomic } from '../train/run_files.js';
import { RUNS_DIR, STUDY_FILE, type StudyFile } from './study.js';

export interface MergeResult {
  readonly copied: number;
  readonly duplicates: number;
  readonly unfinishedSkipped: number;
}

function summaryOf(runDir: string): RunSummary | undefined {
  const p = join(runDir, SUMMARY_FILE);
  return existsSync(p) ? readJSON<RunSummary>(p) : undefined;
}

export function mergeStudies(sources: readonly string[], out: string): MergeResult {
  if (sources.length === 0) throw new Error('merge: give at least one study folder');
  let study: StudyFile | undefined;
  for (const src of sources) {
    const p = join(src, STUDY_FILE);
    if (!existsSync(p)) throw new Error(`merge: ${src} has no ${STUDY_FILE}; is it a study folder?`);
    const s = readJSON<StudyFile>(p);
    if (study && JSON.stringify(s) !== JSON.stringify(study)) {
      throw new Error(`merge: ${src} belongs to a different study than ${sources[0]} (${STUDY_FILE} differs)`);
    }
    study ??= s;
  }
  if (existsSync(join(out, STUDY_FILE)) && JSON.stringify(readJSON<StudyFile>(join(out, STUDY_FILE))) !== JSON.stringify(study)) {
    throw new Error(`merge: ${out} already holds a different study`);
  }
  ensureDir(join(out, RUNS_DIR));
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
      const incoming = summaryOf(from);
      const existing = existsSync(to) ? summaryOf(to) : undefined;
      if (existing && incoming) {
        if (existing.configHash !== incoming.configHash) {
          throw new Error(`merge: run ${name} differs between shards (config hash ${existing.configHash} vs ${incoming.configHash})`);
        }
        duplicates++;
        continue;
      }
      if (existing || (!incoming && existsSync(to))) {
        if (!incoming) unfinishedSkipped++;
        continue;
      }
      if (existsSync(to)) rmSync(to, { recursive: true, force: true });
      cpSync(from, to, { recursive: true });
      if (incoming) copied++;
      else unfinishedSkipped++;
    }
  }
  return { copied, duplicates, unfinishedSkipped };
}
