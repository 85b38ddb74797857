/** One run end to end: train, writing config.json, metrics.jsonl and summary.json as it goes. */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { currentBackend } from '../backend.js';
import type { RunConfig } from './config.js';
import { train, type StepRecord, type TrainHooks } from './loop.js';
import { CheckpointMismatch } from './train_state.js';
import { CONFIG_FILE, METRICS_FILE, MetricsWriter, SUMMARY_FILE, ensureDir, provenance, readJSON, writeJSONAtomic } from './run_files.js';
import { FP32, isFullPrecision, precisionLabel } from '../precision/qat.js';
import { CHECKPOINT_FILE, CHECKPOINT_VERSION, DamagedCheckpoint, readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.js';
import { faultsFor } from './faults.js';
import { lockFolder } from './lock.js';
import { readSummary, summaryProblem } from './run_readers.js';
import type { RunSummary } from './summary.js';

// The summary's type has its own module so that run_readers.ts (which checks summaries) and this
// module (which writes them) need not import each other; it is re-exported here, where callers
// that run things have always found it.
export type { RunSummary } from './summary.js';

/** SHA-256 (16 hex digits) of a value's JSON with object keys sorted: equal for equal content. */
export function stableHash(value: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex').slice(0, 16);
}

/**
 * A stable hash of the resolved config: the key that lets a rerun skip finished runs. Where the
 * LR came from (optimizer.lrSource) is a label, not a setting: the same numbers whatever it says.
 */
export function configHash(config: RunConfig): string {
  const { lrSource: _source, ...optimizer } = config.optimizer;
  return stableHash({ ...config, optimizer });
}

export function runDirName(config: RunConfig): string {
  const scale = config.lrScale === 1 ? '' : `-x${config.lrScale}`;
  // fp32 runs keep the folder names they always had.
  const precision = isFullPrecision(config.precision ?? FP32) ? '' : `@${precisionLabel(config.precision)}`;
  return `${config.experiment}__${config.label}${scale}${precision}__s${config.seed}`;
}

/**
 * A finished run's summary if `dir` holds one for this exact config (and, when given, backend:
 * numbers differ slightly between backends, so a resumed study must not mix them), else undefined.
 */
export function completedSummary(dir: string, config: RunConfig, backend?: string): RunSummary | undefined {
  const path = join(dir, SUMMARY_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const summary = readJSON<RunSummary>(path);
    if (summaryProblem(summary) !== undefined) return undefined;
    if (backend !== undefined && summary.backend !== backend) return undefined;
    return summary.configHash === configHash(config) ? summary : undefined;
  } catch {
    return undefined;
  }
}

export interface RunHooks extends Omit<TrainHooks, 'onCheckpoint' | 'resume'> {
  onRecord?(r: StepRecord): void;
  /** One-line warnings (a damaged file that is being redone); default: printed to stderr. */
  warn?(line: string): void;
  /** The run continues from the checkpoint an earlier, interrupted process left, after step `fromStep`. */
  onResume?(fromStep: number): void;
}

/** Where a killed run can continue: its last checkpoint and the metrics lines it covers. */
interface ResumePoint {
  readonly checkpoint: Checkpoint;
  readonly records: StepRecord[];
}

/**
 * The checkpoint in `dir` if it belongs to this config and backend and metrics.jsonl still holds
 * every line it covers; otherwise undefined, with a warning when a file is damaged (the run is then
 * redone from step 0 rather than resumed from something that cannot be trusted).
 */
function findResumePoint(dir: string, hash: string, backend: string, warn: (line: string) => void): ResumePoint | undefined {
  if (!existsSync(join(dir, CHECKPOINT_FILE))) return undefined;
  let checkpoint: Checkpoint;
  try {
    checkpoint = readCheckpoint(dir);
  } catch (e) {
    const why = e instanceof DamagedCheckpoint ? e.message : (e as Error).message.split('\n', 1)[0];
    warn(`${join(dir, CHECKPOINT_FILE)} is damaged (${why}); redoing the run from step 0`);
    return undefined;
  }
  // Another config's (or backend's) checkpoint: this is a different run, start it fresh.
  if (checkpoint.configHash !== hash || checkpoint.backend !== backend || checkpoint.version !== CHECKPOINT_VERSION) return undefined;
  const metricsPath = join(dir, METRICS_FILE);
  let records: StepRecord[] | undefined;
  try {
    const bytes = readFileSync(metricsPath);
    if (bytes.length >= checkpoint.metricsBytes && (checkpoint.metricsBytes === 0 || bytes[checkpoint.metricsBytes - 1] === 0x0a)) {
      const lines = bytes.subarray(0, checkpoint.metricsBytes).toString('utf8').split('\n').slice(0, -1);
      const parsed = lines.map((l) => JSON.parse(l) as StepRecord);
      if (parsed.length === checkpoint.metricsLines && parsed.length === checkpoint.step && parsed.every((r, i) => r.step === i + 1)) records = parsed;
    }
  } catch {
    records = undefined;
  }
  if (!records) {
    warn(`${metricsPath} does not hold the ${checkpoint.metricsLines} lines its checkpoint covers; redoing the run from step 0`);
    return undefined;
  }
  return { checkpoint, records };
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function executeRun(config: RunConfig, dir: string, hooks: RunHooks = {}): Promise<RunSummary> {
  const warn = hooks.warn ?? ((line: string) => console.error(`warning: ${line}`));
  ensureDir(dir);
  // One writer per run folder: a second process on it stops here, naming the holder's pid.
  const lock = lockFolder(dir, 'run folder');
  try {
    return await executeLocked(config, dir, hooks, warn);
  } finally {
    lock.release();
  }
}

async function executeLocked(config: RunConfig, dir: string, hooks: RunHooks, warn: (line: string) => void): Promise<RunSummary> {
  const backend = currentBackend().name;
  const hash = configHash(config);
  // Rerunning a finished run returns its summary: the final checkpoint and files are already there.
  const read = readSummary(dir);
  if (read.kind === 'damaged') warn(`${join(dir, SUMMARY_FILE)} is damaged (${read.reason}); the run is resumed or redone`);
  const done = completedSummary(dir, config, backend);
  if (done) return done;
  // A stale summary from an earlier, different config must not survive next to new metrics.
  rmSync(join(dir, SUMMARY_FILE), { force: true });
  const record = { ...config, configHash: hash, backend, provenance: provenance() };
  // Written first so a run that crashes still says what it was; rewritten at the end with the
  // routing and parameter count, which exist only once the model and optimizer are built.
  writeJSONAtomic(join(dir, CONFIG_FILE), record);
  const faults = faultsFor(dir);
  let resume = findResumePoint(dir, hash, backend, warn);
  // Said once, before training: a checkpoint that then turns out not to fit is warned about below.
  if (resume) hooks.onResume?.(resume.checkpoint.step);
  for (;;) {
    const writer = new MetricsWriter(
      join(dir, METRICS_FILE),
      resume ? { bytes: resume.checkpoint.metricsBytes, lines: resume.checkpoint.metricsLines } : undefined,
    );
    if (!resume) rmSync(join(dir, CHECKPOINT_FILE), { force: true });
    let outcome;
    try {
      outcome = await train(config, {
        // Each step's read-back resolves as a microtask, so without a turn of the event loop between
        // steps neither a signal (Ctrl-C, Slurm's SIGTERM, in the main thread) nor a worker thread's
        // 'stop' message would be seen before the run ends. The numbers are the same either way.
        betweenSteps: yieldToEventLoop,
        ...hooks,
        ...(faults.corruptGradient ? { corruptGradient: faults.corruptGradient } : {}),
        ...(resume ? { resume: { state: resume.checkpoint, records: resume.records } } : {}),
        onRecord: (r) => {
          writer.append(r);
          if (faults.killAtStep === r.step) process.kill(process.pid, 'SIGKILL');
          hooks.onRecord?.(r);
        },
        onCheckpoint: (state) => {
          // The metrics a checkpoint covers must be on disk before the checkpoint that points at them.
          writer.sync();
          writeCheckpoint(dir, { ...state, version: CHECKPOINT_VERSION, configHash: hash, backend, metricsLines: writer.lines, metricsBytes: writer.bytes });
        },
      });
    } catch (e) {
      if (!(e instanceof CheckpointMismatch) || !resume) throw e;
      warn(`${join(dir, CHECKPOINT_FILE)} does not fit this run (${e.message}); redoing the run from step 0`);
      resume = undefined;
      continue;
    } finally {
      writer.close();
    }
    return finishRun(config, dir, record, outcome);
  }
}

function finishRun(
  config: RunConfig,
  dir: string,
  record: Record<string, unknown> & { configHash: string; backend: string },
  outcome: Awaited<ReturnType<typeof train>>,
): RunSummary {
  const summary = summarizeRun(config, record, outcome);
  // config.json first: a summary.json is the mark of a finished run, so it is written last.
  writeJSONAtomic(join(dir, CONFIG_FILE), { ...record, routing: outcome.routing, parameters: outcome.parameters });
  // An interrupted run keeps its metrics and checkpoint but gets no summary, so a rerun resumes it.
  if (!summary.interrupted) writeJSONAtomic(join(dir, SUMMARY_FILE), summary);
  return summary;
}

/**
 * A run's summary.json content from its outcome; no files. Exported for the browser playground,
 * which trains with the same loop and offers the same files for download.
 */
export function summarizeRun(
  config: RunConfig,
  record: { readonly configHash: string; readonly backend: string },
  outcome: Awaited<ReturnType<typeof train>>,
): RunSummary {
  const interrupted = !outcome.diverged && outcome.stepsCompleted < config.steps;
  return {
    experiment: config.experiment,
    optimizer: config.label,
    optimizerName: config.optimizer.name,
    seed: config.seed,
    lrScale: config.lrScale,
    precision: precisionLabel(config.precision),
    steps: outcome.stepsCompleted,
    plannedSteps: config.steps,
    finalLoss: outcome.finalLoss,
    minLoss: outcome.minLoss,
    initialLoss: outcome.initialLoss,
    initialEvalLoss: outcome.initialEvalLoss,
    evalLoss: outcome.evalLoss,
    ...(config.data.kind === 'mnist' ? { evalAcc: outcome.evalAcc } : {}),
    ...(config.data.kind === 'brown' ? { evalBpc: outcome.evalBpc } : {}),
    ...(outcome.headClips !== null ? { headClips: outcome.headClips } : {}),
    spikes: Object.fromEntries(Object.entries(outcome.spikes).map(([k, v]) => [k, v.events])),
    spikeDetails: outcome.spikes,
    diverged: outcome.diverged,
    divergedAtStep: outcome.divergedAtStep,
    interrupted,
    wallSeconds: outcome.wallSeconds,
    backend: record.backend,
    configHash: record.configHash,
  };
}
