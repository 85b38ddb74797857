/** One run end to end: train, writing config.json, metrics.jsonl and summary.json as it goes. */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { currentBackend } from '../backend.js';
import type { RunConfig } from './config.js';
import { train, type StepRecord, type TrainHooks } from './loop.js';
import { CONFIG_FILE, METRICS_FILE, MetricsWriter, SUMMARY_FILE, ensureDir, provenance, readJSON, writeJSONAtomic } from './run_files.js';
import type { SpikeCount } from './spikes.js';
import { FP32, isFullPrecision, precisionLabel } from '../precision/qat.js';

export interface RunSummary {
  readonly experiment: string;
  /** The optimizer's label in the experiment (chart series name). */
  readonly optimizer: string;
  /** Registry name of the optimizer class. */
  readonly optimizerName: string;
  readonly seed: number;
  readonly lrScale: number;
  /** Simulated precision: a preset name (fp32, bf16, fp8, fp4) or w-<weights>_a-<activations>; absent in summaries from before it existed. */
  readonly precision?: string;
  /** Steps completed. */
  readonly steps: number;
  readonly plannedSteps: number;
  /** Mean training loss over the last 10 steps (the last loss if diverged). */
  readonly finalLoss: number | null;
  readonly minLoss: number | null;
  readonly initialLoss: number | null;
  /** Eval loss before the first update; absent in summaries written before it was recorded. */
  readonly initialEvalLoss?: number | null;
  readonly evalLoss: number | null;
  readonly evalAcc?: number | null;
  /** Spike events per detector name. */
  readonly spikes: Record<string, number>;
  readonly spikeDetails: Record<string, SpikeCount>;
  readonly diverged: boolean;
  readonly divergedAtStep: number | null;
  /** True when the run was stopped (e.g. Ctrl-C) before its planned steps. */
  readonly interrupted: boolean;
  readonly wallSeconds: number;
  readonly backend: string;
  readonly configHash: string;
}

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
    if (backend !== undefined && summary.backend !== backend) return undefined;
    return summary.configHash === configHash(config) ? summary : undefined;
  } catch {
    return undefined;
  }
}

export async function executeRun(
  config: RunConfig,
  dir: string,
  hooks: TrainHooks & { onRecord?(r: StepRecord): void } = {},
): Promise<RunSummary> {
  ensureDir(dir);
  // A stale summary from an earlier, different config must not survive next to new metrics.
  rmSync(join(dir, SUMMARY_FILE), { force: true });
  const backend = currentBackend().name;
  const hash = configHash(config);
  const record = { ...config, configHash: hash, backend, provenance: provenance() };
  // Written first so a run that crashes still says what it was; rewritten at the end with the
  // routing and parameter count, which exist only once the model and optimizer are built.
  writeJSONAtomic(join(dir, CONFIG_FILE), record);
  const writer = new MetricsWriter(join(dir, METRICS_FILE));
  let outcome;
  try {
    outcome = await train(config, {
      ...hooks,
      onRecord: (r) => {
        writer.append(r);
        hooks.onRecord?.(r);
      },
    });
  } finally {
    writer.close();
  }
  const interrupted = !outcome.diverged && outcome.stepsCompleted < config.steps;
  const summary: RunSummary = {
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
    spikes: Object.fromEntries(Object.entries(outcome.spikes).map(([k, v]) => [k, v.events])),
    spikeDetails: outcome.spikes,
    diverged: outcome.diverged,
    divergedAtStep: outcome.divergedAtStep,
    interrupted,
    wallSeconds: outcome.wallSeconds,
    backend,
    configHash: hash,
  };
  // An interrupted run keeps its metrics but gets no summary, so a rerun redoes it.
  if (!interrupted) writeJSONAtomic(join(dir, SUMMARY_FILE), summary);
  writeJSONAtomic(join(dir, CONFIG_FILE), { ...record, routing: outcome.routing, parameters: outcome.parameters });
  return summary;
}
