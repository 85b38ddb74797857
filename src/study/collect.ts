/**
 * Reading a study folder for the analysis, the only pass that touches the disk: study.json and every
 * run the protocol can name — tuning runs (summary only), stress runs, and arm runs at any of the
 * study's multipliers (summary and per-step records). Which of them count as found or missing, and
 * which cell each belongs to, is decided afterwards without I/O (cells.ts), so the same data could
 * come from another source than a folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExperimentSpec } from '../train/config.js';
import type { StepRecord } from '../train/loop.js';
import type { RunSummary } from '../train/run.js';
import { UsageError } from '../errors.js';
import { METRICS_FILE, readMetrics } from '../train/run_files.js';
import { loadSummary, warnToStderr } from '../train/run_readers.js';
import { armLabels } from './arms.js';
import { DIGEST_FILE } from './bundle_files.js';
import { digestRun, type RunDigest } from './digest.js';
import { armDirName, armSeedsOf, longDirName, longSeedsOf, planTuning, seedsOf, stressDirName, stressMultipliersOf, type StudySpec } from './protocol.js';
import { readStudyFile, RUNS_DIR, STUDY_FILE, runnableArms } from './study.js';

/** One run of a study as the analysis sees it. */
export interface StudyRun {
  /** Its folder name inside runs/. */
  readonly name: string;
  readonly summary: RunSummary;
  /**
   * What the analysis reads of a stress, arm or long-horizon run's per-step records (digest.ts);
   * undefined for tuning runs and when the records are missing or damaged.
   */
  readonly digest: RunDigest | undefined;
}

export interface LoadedStudy {
  readonly spec: StudySpec;
  readonly experiments: Readonly<Record<string, ExperimentSpec>>;
  /** Every run of the study with a readable summary, by folder name. */
  readonly runs: ReadonlyMap<string, StudyRun>;
}

/** A damaged summary is reported once and its run is absent from `runs`: the analysis counts it as missing. */
const MISSING = 'counted as missing; rerun the study command to redo it';

/**
 * The digest of a run's per-step records, or undefined (a damaged file is reported once). A run
 * restored from a bundle (restore.ts) has its digest in DIGEST_FILE instead of records.
 */
function readDigest(runDir: string, plannedSteps: number): RunDigest | undefined {
  const path = join(runDir, METRICS_FILE);
  const stored = join(runDir, DIGEST_FILE);
  try {
    if (existsSync(path)) return digestRun(readMetrics<StepRecord>(path), plannedSteps);
    if (existsSync(stored)) return JSON.parse(readFileSync(stored, 'utf8')) as RunDigest;
  } catch (e) {
    warnToStderr(`${(e as Error).message.split('\n', 1)[0]}; its curves are left out`);
  }
  return undefined;
}

/**
 * The folder names the protocol can give a study's runs, task by task in plan order (tuning; stress
 * by multiplier, optimizer, seed; each runnable arm by multiplier, optimizer, seed), and whether
 * their per-step records are used. Arm runs are named at every multiplier because where the arms
 * ran follows from the stress results, which are not known before reading.
 */
function candidateRuns(spec: StudySpec, experiments: Readonly<Record<string, ExperimentSpec>>): { name: string; records: boolean }[] {
  const labels = [spec.baseline, spec.treatment];
  const tuning = planTuning(spec, new Map(Object.entries(experiments)));
  return spec.tasks.flatMap((task) => [
    ...tuning.filter((p) => p.task === task.experiment).map((p) => ({ name: p.dirName, records: false })),
    ...stressMultipliersOf(spec, task).flatMap((m) =>
      labels.flatMap((label) => seedsOf(spec, task).map((seed) => ({ name: stressDirName(task.experiment, label, m, seed), records: true }))),
    ),
    ...runnableArms(task, experiments).flatMap((arm) =>
      stressMultipliersOf(spec, task).flatMap((m) =>
        armLabels(arm, spec.baseline, spec.treatment).flatMap((label) =>
          armSeedsOf(spec, task, arm).map((seed) => ({ name: armDirName(task.experiment, arm, label, m, seed), records: true })),
        ),
      ),
    ),
    // The long-horizon runs (study v3), read for the late-stage endpoints.
    ...(spec.long?.tasks.includes(task.experiment)
      ? spec.long.multipliers.flatMap((m) =>
          labels.flatMap((label) => longSeedsOf(spec.long!, task.experiment).map((seed) => ({ name: longDirName(task.experiment, label, m, seed), records: true }))),
        )
      : []),
  ]);
}

/** Everything the analysis needs from a study folder. A folder without study.json is an error. */
export function loadStudy(dir: string): LoadedStudy {
  const studyPath = join(dir, STUDY_FILE);
  if (!existsSync(studyPath)) throw new UsageError(`${dir}: no ${STUDY_FILE}; is this a study folder?`);
  const file = readStudyFile(studyPath);
  const runs = new Map<string, StudyRun>();
  for (const { name, records } of candidateRuns(file.spec, file.experiments)) {
    const runDir = join(dir, RUNS_DIR, name);
    if (!existsSync(runDir)) continue;
    const summary = loadSummary(runDir, warnToStderr, MISSING);
    if (summary) runs.set(name, { name, summary, digest: records ? readDigest(runDir, summary.plannedSteps) : undefined });
  }
  return { spec: file.spec, experiments: file.experiments, runs };
}
