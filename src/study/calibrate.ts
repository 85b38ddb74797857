/**
 * Running a detector calibration (src/study/calibration.ts): the planned runs on the run pool
 * (resumable: finished runs are skipped, killed ones continue from their checkpoint), then their
 * logged signals scored and the thresholds chosen, written to `calibration.json` beside the runs.
 */
import { join } from 'node:path';
import { currentBackend } from '../backend.js';
import { renderTable } from '../text/table.js';
import type { ExperimentSpec } from '../train/config.js';
import type { StepRecord } from '../train/loop.js';
import { completedSummary } from '../train/run.js';
import { ensureDir, METRICS_FILE, readMetrics, writeJSONAtomic } from '../train/run_files.js';
import {
  calibrationResult,
  calibrationTable,
  choiceLines,
  injectionsText,
  planCalibration,
  scoreCalibration,
  type CalibrationPlanInput,
  type CalibrationResult,
  type CalibrationSeries,
} from './calibration.js';
import { openPool, stopSignal, type PoolEvents } from './pool.js';
import type { StudyTask } from './protocol.js';

export const CALIBRATION_FILE = 'calibration.json';

/** The experiment as the study runs it: the study task's model, batch size and evaluation size. */
export function studySized(spec: ExperimentSpec, task: StudyTask | undefined): ExperimentSpec {
  if (!task) return spec;
  return {
    ...spec,
    ...(task.model ? { model: task.model } : {}),
    ...(task.batchSize ? { batchSize: task.batchSize } : {}),
    ...(task.evalSize ? { evalSize: task.evalSize } : {}),
  };
}

/** The plan's input (calibration.ts), and where and how to run it. */
export interface CalibrateOptions extends CalibrationPlanInput {
  readonly window: number;
  readonly runsDir: string;
  readonly workers: number;
  readonly command: string;
  readonly events?: PoolEvents & { onPlan?(todo: number, skipped: number, steps: number): void };
}

const finite = (x: number | null | undefined): number => (typeof x === 'number' ? x : NaN);

/** Run (or resume) a calibration and score it; undefined when stopped (Ctrl-C) before the end. */
export async function runCalibration(o: CalibrateOptions): Promise<CalibrationResult | undefined> {
  const planned = planCalibration(o).map((r) => ({ ...r, dir: join(o.runsDir, r.dirName) }));
  const backend = currentBackend().name;
  ensureDir(o.runsDir);
  const todo = planned.filter((p) => !completedSummary(p.dir, p.config, backend));
  o.events?.onPlan?.(todo.length, planned.length - todo.length, todo.reduce((a, p) => a + p.config.steps, 0));
  const pool = openPool(o.workers);
  try {
    await pool.run(todo.map((p) => ({ config: p.config, dir: p.dir })), o.events);
  } finally {
    await pool.close();
  }
  if (stopSignal.requested) return undefined;
  const series: CalibrationSeries[] = planned.map((p) => {
    if (!completedSummary(p.dir, p.config, backend)) throw new Error(`calibration run ${p.dir} has no summary after running`);
    const records = readMetrics<StepRecord>(join(p.dir, METRICS_FILE));
    return {
      label: p.label,
      seed: p.seed,
      injections: p.injections,
      signals: records.map((r) => ({ step: r.step, loss: finite(r.loss), gradNorm: finite(r.gradNorm) })),
    };
  });
  const rows = scoreCalibration(series, undefined, o.window);
  const result = calibrationResult({
    experiment: o.spec.name,
    labels: o.labels,
    steps: o.steps,
    cleanSeeds: o.cleanSeeds,
    injectedSeeds: o.injectedSeeds,
    injections: o.injections,
    window: o.window,
    backend,
    command: o.command,
    rows,
  });
  writeJSONAtomic(join(o.runsDir, CALIBRATION_FILE), result);
  return result;
}

/** The detector × setting table, the chosen settings and the pre-registered detector. */
export function renderCalibration(r: CalibrationResult): string {
  const table = calibrationTable(r);
  const lines = [
    `${r.experiment}: ${r.labels.join(' and ')}, ${r.steps} steps, clean seeds ${r.cleanSeeds.join(',')}, injected seeds ${r.injectedSeeds.join(',')} (backend ${r.backend})`,
    `injections: ${injectionsText(r)}; detected = a flag within ${r.window} steps after`,
    ...(r.rows[0] && r.rows[0].unreached > 0
      ? [`${r.rows[0].unreached} injection(s) not scored: their run diverged before the detection window closed (divergence is counted apart)`]
      : []),
    renderTable(table.head, table.rows),
    `Threshold rule: ${r.thresholdRule}.`,
    ...choiceLines(r).map((l) => `  ${l}`),
    `Pre-registration rule: ${r.preRegistrationRule}.`,
    `  → ${r.preRegistered ?? 'none (no detector met the false-positive budget)'}`,
  ];
  return lines.join('\n');
}
