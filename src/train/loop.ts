/**
 * The training loop: seeded init and batch order, one optimizer step per minibatch, per-step
 * metrics, periodic evaluation, online spike detection and divergence stopping. No files here:
 * `onRecord` receives each step's record (run.ts writes them).
 */
import { tf } from '../tf.js';
import { batchIndices, gatherRows, type Dataset, type Split } from '../data/index.js';
import { Rng } from '../data/rng.js';
import type { Model } from '../models/model.js';
import { loadBalanceStats } from '../models/moe.js';
import type { ComposedOptimizer } from '../optimizers/index.js';
import type { RunConfig } from './config.js';
import { buildDataset, buildModel, buildOptimizer, describeRouting } from './build.js';
import { lrFactor } from './schedule.js';
import { meanSquaredError, softmaxCrossEntropy } from './losses.js';
import { SpikeTracker, type SpikeCount } from './spikes.js';

/** One line of metrics.jsonl. Non-finite numbers are written as null. */
export interface StepRecord {
  step: number;
  /** Task loss of this minibatch (cross-entropy or MSE), without auxiliary terms. */
  loss: number;
  /** Auxiliary MoE loss actually optimised (α·balance + c·z-loss), when the model has one. */
  auxLoss?: number;
  /** Global L2 norm of all gradients. */
  gradNorm: number;
  /** RMS of the parameter change Δθ, per optimizer group (e.g. muon, adamw). */
  updateRms: Record<string, number>;
  /** The main group's learning rate at this step (base LR × schedule × lrScale). */
  lr: number;
  /** Wall time of the step, milliseconds. */
  ms: number;
  evalLoss?: number;
  evalAcc?: number;
  expertLoad?: number[];
  maxVio?: number;
  loadCv?: number;
  deadExperts?: number;
  routerMaxLogit?: number;
  zLoss?: number;
  /** Detector names that flagged this step. */
  spikes?: string[];
}

export interface TrainOutcome {
  readonly records: number;
  readonly finalLoss: number;
  readonly minLoss: number;
  readonly initialLoss: number;
  /** Eval loss of the model at initialisation (before step 1): the "loss at init" of the study's failed endpoint. */
  readonly initialEvalLoss: number;
  readonly evalLoss: number | null;
  readonly evalAcc: number | null;
  readonly spikes: Record<string, SpikeCount>;
  readonly diverged: boolean;
  readonly divergedAtStep: number | null;
  readonly stepsCompleted: number;
  readonly wallSeconds: number;
  readonly routing: Record<string, string>;
  readonly parameters: number;
}

export interface TrainHooks {
  onRecord?(record: StepRecord): void;
  /** Polled between steps; true stops the run early (e.g. Ctrl-C), which is then not "diverged". */
  shouldStop?(): boolean;
}

/** finalLoss is the mean training loss over the last this-many steps: one minibatch is too noisy. */
export const FINAL_LOSS_WINDOW = 10;
/** Evaluation runs in chunks so memory stays flat on large test sets. */
const EVAL_CHUNK = 1000;

function taskLoss(kind: Dataset['kind'], y: tf.Tensor, output: tf.Tensor): tf.Scalar {
  return kind === 'classification' ? softmaxCrossEntropy(y, output) : meanSquaredError(y, output);
}

function evaluate(model: Model, data: Dataset, limit: number | null): { loss: number; acc: number | null } {
  const split: Split = data.test;
  const n = Math.min(split.n, limit ?? split.n);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < n; start += EVAL_CHUNK) {
    const size = Math.min(EVAL_CHUNK, n - start);
    const [l, c] = tf.tidy(() => {
      const x = tf.tensor2d(split.x.subarray(start * data.inputDim, (start + size) * data.inputDim), [size, data.inputDim]);
      const y = tf.tensor2d(split.y.subarray(start * data.outputDim, (start + size) * data.outputDim), [size, data.outputDim]);
      const { output } = model.forward(x);
      const loss = tf.mul(taskLoss(data.kind, y, output), size);
      const hits =
        data.kind === 'classification' ? tf.sum(tf.cast(tf.equal(tf.argMax(output, 1), tf.argMax(y, 1)), 'float32')) : tf.scalar(0);
      return tf.stack([loss, hits]).dataSync();
    });
    lossSum += l!;
    correct += c!;
  }
  return { loss: lossSum / n, acc: data.kind === 'classification' ? correct / n : null };
}

const finiteOrNaN = (x: number | undefined): number => (x === undefined ? NaN : x);

/** Where each value sits in a step's packed read-back. */
interface StepLayout {
  hasAux: boolean;
  updateGroups: string[];
  updateCounts: number[];
  statNames: string[];
  loadWidth: number;
}

/**
 * One optimizer step on one batch (the batch tensors are disposed here). Returns every number
 * the step reports packed into one tensor, so the caller reads back once:
 * [task loss, Σg², aux loss (the task loss again as a placeholder when there is none),
 *  Σ(Δθ)² per optimizer group..., MoE scalars..., expert loads...].
 */
function trainStep(
  model: Model,
  optimizer: ComposedOptimizer,
  kind: Dataset['kind'],
  variables: tf.Variable[],
  batch: [tf.Tensor2D, tf.Tensor2D],
): { packed: tf.Tensor1D; layout: StepLayout } {
  const layout: StepLayout = { hasAux: false, updateGroups: [], updateCounts: [], statNames: [], loadWidth: 0 };
  const packed = tf.tidy(() => {
    const [x, y] = batch;
    let kept: { task: tf.Scalar; aux?: tf.Scalar; stats?: Readonly<Record<string, tf.Tensor>> } | undefined;
    const { grads } = tf.variableGrads(() => {
      const out = model.forward(x);
      const task = taskLoss(kind, y, out.output);
      // tf.keep lets these escape variableGrads' inner scope; disposed below.
      kept = { task: tf.keep(task), ...(out.auxLoss ? { aux: tf.keep(out.auxLoss) } : {}) };
      if (out.stats) kept.stats = Object.fromEntries(Object.entries(out.stats).map(([k, t]) => [k, tf.keep(t)]));
      return out.auxLoss ? tf.add(task, out.auxLoss) : task;
    }, variables);
    const gradSumSq = tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))));
    optimizer.applyGradients(grads);
    const k = kept!;
    if (k.stats) model.afterStep?.(k.stats);
    const update = optimizer.drainUpdateStats();
    if (update) {
      layout.updateGroups = update.groups;
      layout.updateCounts = update.counts;
    }
    layout.hasAux = k.aux !== undefined;
    const parts: tf.Tensor[] = [k.task, gradSumSq, k.aux ?? k.task, ...(update ? [update.sumSq] : [])];
    if (k.stats) {
      layout.statNames = Object.keys(k.stats).filter((n) => n !== 'expertLoad');
      parts.push(...layout.statNames.map((n) => k.stats![n]!));
      const load = k.stats['expertLoad'];
      if (load) {
        layout.loadWidth = load.size;
        parts.push(load);
      }
    }
    const out = tf.concat(parts.map((t) => tf.reshape(t, [-1]))) as tf.Tensor1D;
    tf.dispose([k.task, ...(k.aux ? [k.aux] : []), ...Object.values(k.stats ?? {})]);
    return out;
  });
  tf.dispose(batch);
  return { packed, layout };
}

function decodeStep(step: number, values: Float32Array | Int32Array | Uint8Array, layout: StepLayout, lr: number): StepRecord {
  const at = (i: number) => values[i]!;
  const record: StepRecord = {
    step,
    loss: at(0),
    gradNorm: Math.sqrt(at(1)),
    updateRms: Object.fromEntries(layout.updateGroups.map((g, i) => [g, Math.sqrt(at(3 + i) / layout.updateCounts[i]!)])),
    lr,
    ms: 0,
  };
  if (layout.hasAux) record.auxLoss = at(2);
  const base = 3 + layout.updateGroups.length;
  layout.statNames.forEach((n, i) => {
    (record as unknown as Record<string, number>)[n] = at(base + i);
  });
  if (layout.loadWidth > 0) {
    const from = base + layout.statNames.length;
    record.expertLoad = Array.from(values.subarray(from, from + layout.loadWidth), Number);
    Object.assign(record, loadBalanceStats(record.expertLoad));
  }
  return record;
}

export async function train(config: RunConfig, hooks: TrainHooks = {}): Promise<TrainOutcome> {
  const started = performance.now();
  const rng = new Rng(config.seed);
  const data = buildDataset(config.data);
  const model = buildModel(config, data, rng.fork('init'));
  const optimizer: ComposedOptimizer = buildOptimizer(config, model);
  optimizer.collectUpdateStats = true;
  const routing = describeRouting(optimizer, model);
  const nextBatch = batchIndices(data.train.n, config.batchSize, rng.fork('batches'));
  const xBuf = new Float32Array(config.batchSize * data.inputDim);
  const yBuf = new Float32Array(config.batchSize * data.outputDim);
  const tracker = new SpikeTracker(config.detectors);
  const variables = model.variables as tf.Variable[];

  const losses: number[] = [];
  let initialLoss = NaN;
  let minLoss = Infinity;
  let evalLoss: number | null = null;
  let evalAcc: number | null = null;
  let diverged = false;
  let divergedAtStep: number | null = null;
  let step = 0;
  // One evaluation before any update: a run that ends worse than this has failed, whether or not its
  // training loss ever crossed the divergence threshold. It reads no random numbers and changes no
  // state, so the run's numbers are the same with or without it.
  let initialEvalLoss = NaN;

  try {
    initialEvalLoss = evaluate(model, data, config.evalSize).loss;
    for (step = 1; step <= config.steps; step++) {
      if (hooks.shouldStop?.()) {
        step -= 1;
        break;
      }
      const t0 = performance.now();
      const factor = lrFactor(config.schedule, step, config.steps);
      optimizer.lrScale = config.lrScale * factor;
      const idx = nextBatch();
      gatherRows(data.train.x, data.inputDim, idx, xBuf);
      gatherRows(data.train.y, data.outputDim, idx, yBuf);

      const { packed, layout } = trainStep(model, optimizer, data.kind, variables, [
        tf.tensor2d(xBuf, [config.batchSize, data.inputDim]),
        tf.tensor2d(yBuf, [config.batchSize, data.outputDim]),
      ]);
      // The step's one synchronous read: loss, grad norm, aux terms, update stats, MoE stats.
      const values = await packed.data();
      packed.dispose();
      const record = decodeStep(step, values, layout, optimizer.learningRate * optimizer.lrScale);
      const { loss, gradNorm } = record;

      if (step === 1) initialLoss = loss;
      losses.push(loss);
      if (loss < minLoss) minLoss = loss;
      const flagged = tracker.observe({ step, loss, gradNorm });
      if (flagged.length > 0) record.spikes = flagged;
      if (!Number.isFinite(loss) || loss > config.divergenceFactor * initialLoss) {
        diverged = true;
        divergedAtStep = step;
      }
      if (!diverged && (step % config.evalEvery === 0 || step === config.steps)) {
        const ev = evaluate(model, data, config.evalSize);
        evalLoss = ev.loss;
        evalAcc = ev.acc;
        record.evalLoss = ev.loss;
        if (ev.acc !== null) record.evalAcc = ev.acc;
      }
      record.ms = performance.now() - t0;
      hooks.onRecord?.(record);
      if (diverged) break;
    }
  } finally {
    optimizer.dispose();
    model.dispose();
  }
  const stepsCompleted = Math.min(step, config.steps);
  const tail = losses.slice(-FINAL_LOSS_WINDOW).filter(Number.isFinite);
  const finalLoss = diverged
    ? finiteOrNaN(losses[losses.length - 1])
    : tail.length > 0
      ? tail.reduce((a, b) => a + b, 0) / tail.length
      : NaN;
  return {
    records: losses.length,
    finalLoss,
    minLoss: Number.isFinite(minLoss) ? minLoss : NaN,
    initialLoss,
    initialEvalLoss,
    evalLoss,
    evalAcc,
    spikes: tracker.counts(),
    diverged,
    divergedAtStep,
    stepsCompleted,
    wallSeconds: (performance.now() - started) / 1000,
    routing,
    parameters: model.variables.reduce((a, v) => a + v.size, 0),
  };
}
