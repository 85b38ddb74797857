/**
 * A published results bundle: a study's loaded data (collect.ts's LoadedStudy) written compactly, so
 * the analysis, REPORT.md, the figures and report.html can be regenerated from it alone, without the
 * run folders (their checkpoints, configs and full metrics are most of a study's size).
 *
 * Layout of a bundle folder's data:
 *   bundle.json      format name, version, study.json's content, the per-step fields kept;
 *   runs.json.gz     every run the analysis found (gzip of a JSON array, in load order): folder
 *                    name, summary.json as it was, and for the runs whose records a pass reads,
 *                    those records reduced to what is read, column by column.
 *
 * Why records are kept at full resolution (the fields read, where they are read) rather than
 * downsampled or replaced by derived per-run values: the report's median loss curve, the
 * late-stage spike rates and growth slopes, the MoE balance tenths and the figures' bands and
 * spike/divergence markers all read every step, and the rule is that the report from a bundle is
 * the report from the folder, byte for byte. Keeping records lets every pass after collect run
 * unchanged on the same LoadedStudy type (one code path, nothing to drift apart). What makes it
 * small, all lossless for what is read (recordPlans says which run needs which field where):
 * unread fields (per-head and per-layer arrays, expert loads, timings) are dropped; arm and
 * long-horizon runs keep only step, spike flags and the growth signals of their last half; signals read only by the
 * growth fit (gradient norm, output log Z) keep their last half; float32 values are written with
 * their shortest float32 digits.
 *
 * Beside these two, `report` on a bundle (and so `publish`) writes primary.json (primary_format.ts):
 * the primary family's per-run samples, p's, Holm decisions and verdicts, from which `verify-bundle`
 * (rederive.ts) re-derives every verdict with its own implementation of the tests.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { UsageError } from '../errors.js';
import type { StepRecord } from '../train/loop.js';
import type { RunSummary } from '../train/run.js';
import { ensureDir, writeFileAtomic, writeJSONAtomic } from '../train/run_files.js';
import { collectCells, type Cell } from './cells.js';
import { loadStudy, type LoadedStudy, type StudyRun } from './collect.js';
import { halfOf } from './endpoints.js';
import { BALANCE_SIGNALS, GROWTH_SIGNALS } from './signals.js';
import type { StudyFile } from './study.js';
import { BUNDLE_FILE, BUNDLE_RUNS_FILE } from './bundle_files.js';

export { BUNDLE_FILE, BUNDLE_RUNS_FILE };

export const BUNDLE_FORMAT = 'optimizer-sandbox study bundle';
/** Bumped whenever a reader of an older bundle would misread a newer one. */
export const BUNDLE_VERSION = 1;

/** A bundle that cannot be read: one line naming the file and what is wrong. */
/** A bundle that cannot be read: the user's to fix (publish again, or use a matching checkout). */
export class BundleError extends UsageError {
  override name = 'BundleError';
}

interface BundleHeader {
  readonly format: string;
  readonly version: number;
  readonly study: StudyFile;
  /** Scalar per-step fields kept in the records (besides step and spikes). */
  readonly fields: readonly string[];
}

/**
 * One scalar field of a run's records. `at` lists the record indices that carry the field when not
 * all do (absent ≠ null: a null loss is kept as null). `f32`: every value is a float32, written
 * with the fewest digits that round back to it; the reader rounds with Math.fround, which restores
 * the exact value.
 */
interface Column {
  readonly f32?: true;
  readonly at?: readonly number[];
  readonly v: readonly (number | null)[];
}

interface Records {
  readonly step: readonly number[];
  readonly cols: Readonly<Record<string, Column>>;
  /** [record index, detectors that flagged the step]. */
  readonly spikes: readonly (readonly [number, readonly string[]])[];
}

interface BundledRun {
  readonly name: string;
  readonly summary: RunSummary;
  readonly records?: Records;
}

const isF32 = (x: number) => Object.is(Math.fround(x), x);

/** The fewest significant digits of a float32 that round back to it (≈ 9 digits instead of 17). */
function shortF32(x: number): number {
  for (let p = 1; p < 17; p++) {
    const y = Number(x.toPrecision(p));
    if (Object.is(Math.fround(y), x)) return y;
  }
  return x;
}

function encodeColumn(records: readonly StepRecord[], field: string, keep: (i: number) => boolean): Column | undefined {
  const at: number[] = [];
  const v: (number | null)[] = [];
  records.forEach((r, i) => {
    const x = (r as unknown as Record<string, unknown>)[field];
    if (x === undefined || !keep(i)) return;
    if (x !== null && typeof x !== 'number') throw new BundleError(`per-step field ${field} is not a number (step ${r.step})`);
    at.push(i);
    v.push(x);
  });
  if (v.length === 0) return undefined;
  const f32 = v.every((x) => x === null || isF32(x));
  return {
    ...(f32 ? { f32: true as const } : {}),
    ...(at.length < records.length ? { at } : {}),
    v: f32 ? v.map((x) => (x === null ? null : shortF32(x))) : v,
  };
}

/**
 * What the passes read of one run's records. `full`: fields read at every step (the stress runs'
 * curves, balance tenths and figures). `late`: fields read only by the growth fit, which uses the
 * steps after `half`; with `firstPositive`, also the first positive value before it, because
 * `signalsIn` asks whether a stress run's signal is positive anywhere.
 */
interface RecordPlan {
  readonly full: readonly string[];
  readonly late: readonly string[];
  readonly half: number;
  readonly firstPositive: boolean;
}

function encodeRecords(records: readonly StepRecord[], plan: RecordPlan): Records {
  const cols: Record<string, Column> = {};
  for (const f of plan.full) {
    const c = encodeColumn(records, f, () => true);
    if (c) cols[f] = c;
  }
  for (const f of plan.late.filter((x) => !plan.full.includes(x))) {
    const value = (i: number) => (records[i] as unknown as Record<string, unknown>)[f];
    const first = plan.firstPositive ? records.findIndex((r, i) => r.step <= plan.half && (value(i) as number) > 0) : -1;
    const c = encodeColumn(records, f, (i) => records[i]!.step > plan.half || i === first);
    if (c) cols[f] = c;
  }
  const spikes = records.flatMap((r, i): (readonly [number, readonly string[]])[] => (r.spikes !== undefined ? [[i, r.spikes]] : []));
  return { step: records.map((r) => r.step), cols, spikes };
}

/**
 * The record plan of every run whose records a pass reads, from the cells the analysis forms.
 * Stress runs feed the curves, balance, figures and growth; arm runs only the late-stage spike
 * rates (step and spike flags, always kept) and growth. A run in no cell (an arm at a multiplier
 * the arms did not run at) has no plan: its records are never read.
 */
function recordPlans(loaded: LoadedStudy, figureFields: readonly string[]): Map<string, RecordPlan> {
  const cells = collectCells(loaded);
  const full = [...new Set(['loss', ...BALANCE_SIGNALS, ...figureFields])].filter((f) => f !== 'step' && f !== 'spikes');
  const growthOnly = GROWTH_SIGNALS.filter((f) => !full.includes(f));
  const plans = new Map<string, RecordPlan>();
  const runsOf = (c: Cell) => Object.values(c.runsByLabel).flat();
  for (const t of cells.tasks) {
    // Arm and long-horizon runs are read in their last half only: late spikes and the growth fit.
    for (const c of [...t.armCells, ...t.long]) for (const r of runsOf(c)) plans.set(r.name, { full: [], late: GROWTH_SIGNALS, half: halfOf(c.plannedSteps), firstPositive: false });
    // Last: a stress run that is also an arm's baseline side is read as a stress run.
    for (const c of t.stress) for (const r of runsOf(c)) plans.set(r.name, { full, late: growthOnly, half: halfOf(c.plannedSteps), firstPositive: true });
  }
  return plans;
}

function decodeRecords(rec: Records): StepRecord[] {
  const out: Record<string, unknown>[] = rec.step.map((step) => ({ step }));
  for (const [field, c] of Object.entries(rec.cols)) {
    c.v.forEach((x, k) => {
      const i = c.at ? c.at[k]! : k;
      out[i]![field] = x === null ? null : c.f32 ? Math.fround(x) : x;
    });
  }
  for (const [i, detectors] of rec.spikes) out[i]!.spikes = [...detectors];
  return out as unknown as StepRecord[];
}

/** True when `dir` holds a bundle (as opposed to a study folder). */
export const isBundle = (dir: string) => existsSync(join(dir, BUNDLE_FILE));

/**
 * Write a loaded study as a bundle into `dir` (created): the summaries as they are and, for the
 * runs whose records a pass reads, `step`, `spikes` and the fields it reads where it reads them
 * (the analysis's, known here, and the figures', given: `figureFields`).
 */
export function writeBundle(dir: string, loaded: LoadedStudy, figureFields: readonly string[]): { bytes: number } {
  ensureDir(dir);
  const plans = recordPlans(loaded, figureFields);
  const runs: BundledRun[] = [...loaded.runs.values()].map((r) => {
    const plan = plans.get(r.name);
    return { name: r.name, summary: r.summary, ...(r.metrics && plan ? { records: encodeRecords(r.metrics, plan) } : {}) };
  });
  // A fixed level and no file name or time in the gzip header: the same study gives the same bytes.
  const gz = gzipSync(Buffer.from(JSON.stringify(runs)), { level: 9 });
  writeFileAtomic(join(dir, BUNDLE_RUNS_FILE), gz);
  const kept = [...new Set([...plans.values()].flatMap((p) => [...p.full, ...p.late]))].sort();
  const header: BundleHeader = {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    study: { spec: loaded.spec, experiments: { ...loaded.experiments } },
    fields: kept,
  };
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
      bundled.map((b) => [b.name, { name: b.name, summary: b.summary, metrics: b.records ? decodeRecords(b.records) : undefined }]),
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
