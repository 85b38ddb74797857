/**
 * The training loop: seeded init and batch order, one optimizer step per minibatch, per-step
 * metrics, periodic evaluation, online spike detection and divergence stopping. No files here:
 * `onRecord` receives each step's record (run.ts writes them).
 */
import { tf } from '../tf.js';
import { Rng } from '../data/rng.js';
import type { Model } from '../models/model.js';
import { loadBalanceStats } from '../models/moe.js';
import type { ComposedOptimizer } from '../optimizers/index.js';
import type { StepSignalName } from '../optimizers/transforms.js';
import type { RunConfig } from './config.js';
import { buildModel, buildOptimizer, describeRouting } from './build.js';
import { qkClipHook } from './qk_clip.js';
import { corruptTargets, injectionAt, injectionProblem, lrInjectionFactor } from './inject.js';
import { lrFactor } from './schedule.js';
import { SpikeTracker, type SpikeCount } from './spikes.js';
import type { TrainState } from './checkpoint.js';
import { captureState, CheckpointMismatch, restoreState } from './train_state.js';
import { buildTask, taskLoss, type TaskKind } from './tasks.js';

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
  /**
   * Per group with an Adam second moment (AdamW, Muon's internal AdamW): the share of coordinates
   * with g² < SMALL_GRAD_FRACTION·v̂ this step, the precondition of Adam's spikes (docs/references.md#adam-spikes).
   */
  smallGradShare?: Record<string, number>;
  /** The main group's learning rate at this step (base LR × schedule × lrScale). */
  lr: number;
  /** Wall time of the step, milliseconds. */
  ms: number;
  evalLoss?: number;
  evalAcc?: number;
  /** Text: evalLoss in bits per character (evalLoss / ln 2). */
  evalBpc?: number;
  /** MoE: fractions of routed slots per expert; for the transformer one row per block. */
  expertLoad?: number[] | number[][];
  maxVio?: number;
  loadCv?: number;
  deadExperts?: number;
  routerMaxLogit?: number;
  zLoss?: number;
  /** Transformer (docs/references.md#transformer-instabilities): max pre-softmax attention logit over layers, heads, batch and unmasked positions. */
  maxAttnLogit?: number;
  maxAttnLogitPerLayer?: number[];
  /** [layer][head]: the maxima QK-clip acts on. */
  maxAttnLogitPerHead?: number[][];
  /** The lowest, over layers and heads, of the mean entropy (nats) of the attention rows. */
  minAttnEntropy?: number;
  minAttnEntropyPerLayer?: number[];
  /** max |logit| of the output logits. */
  outputLogitMax?: number;
  /** Mean logsumexp of the output logits (log Z). */
  outputLogZ?: number;
  /** Heads QK-clip rescaled after this step (runs with QK-clip only). */
  qkClips?: number;
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
  /** Text runs: the final eval loss in bits per character. */
  readonly evalBpc: number | null;
  /** Runs with QK-clip: head-clips over the run (a head rescaled at one step counts once). */
  readonly headClips: number | null;
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
  /**
   * Awaited before each step. A browser worker's loop never reaches its event queue otherwise (each
   * step's read-back resolves as a microtask), so this is where it yields to take messages and waits
   * while paused. It must not touch the model: the numbers are the same with or without it.
   */
  betweenSteps?(): Promise<void>;
  /**
   * Receives the training state every `checkpointEvery` steps, and once at the end (finished,
   * diverged or stopped), always right after that step's record went to `onRecord`.
   */
  onCheckpoint?(state: TrainState): void;
  /** Steps between checkpoints, or 'auto' (default): the first step after AUTO_CHECKPOINT_SECONDS of training. */
  checkpointEvery?: number | 'auto';
  /** Continue from this state; `records` are the metrics lines it covers, replayed into the statistics. */
  resume?: { state: TrainState; records: readonly StepRecord[] };
  /** Test hook: replace one gradient with NaN or ±Infinity at this step (no other fault injection). */
  corruptGradient?: { step: number; value: number };
}

/** With `checkpointEvery: 'auto'`, a checkpoint follows the first step after this much training since the last one. */
export const AUTO_CHECKPOINT_SECONDS = 60;

/** finalLoss is the mean training loss over the last this-many steps: one minibatch is too noisy. */
const FINAL_LOSS_WINDOW = 10;
const finiteOrNaN = (x: number | undefined): number => (x === undefined ? NaN : x);

/** Where each value sits in a step's packed read-back. */
interface StepLayout {
  hasAux: boolean;
  updateGroups: string[];
  updateCounts: number[];
  /** Signals transforms counted (UpdateContext.count), per (signal, group), and the coordinates each looked at. */
  signals: { signal: StepSignalName; group: string }[];
  signalCounts: number[];
  /** Each stat tensor's name and element count, in packing order. */
  stats: { name: string; size: number }[];
}

/**
 * One optimizer step on one batch (the batch tensors are disposed here). Returns every number
 * the step reports packed into one tensor, so the caller reads back once:
 * [task loss, Σg², aux loss (the task loss again as a placeholder when there is none),
 *  Σ(Δθ)² per optimizer group..., each model stat flattened (MoE balance, attention signals)...].
 * Exported for the benchmark, which counts the matmuls one step executes (src/bench/matmuls.ts).
 */
export function trainStep(
  model: Model,
  optimizer: ComposedOptimizer,
  kind: TaskKind,
  variables: tf.Variable[],
  batch: [tf.Tensor2D, tf.Tensor2D],
  corruptWith?: number,
): { packed: tf.Tensor1D; layout: StepLayout } {
  const layout: StepLayout = { hasAux: false, updateGroups: [], updateCounts: [], signals: [], signalCounts: [], stats: [] };
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
    if (corruptWith !== undefined) {
      const first = Object.keys(grads)[0]!;
      grads[first] = tf.add(grads[first]!, corruptWith);
    }
    const gradSumSq = tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))));
    optimizer.applyGradients(grads);
    const k = kept!;
    if (k.stats) model.afterStep?.(k.stats);
    const update = optimizer.drainUpdateStats();
    if (update) {
      layout.updateGroups = update.groups;
      layout.updateCounts = update.counts;
    }
    const signals = optimizer.drainSignalStats();
    if (signals) {
      layout.signals = signals.entries;
      layout.signalCounts = signals.counts;
    }
    layout.hasAux = k.aux !== undefined;
    const parts: tf.Tensor[] = [k.task, gradSumSq, k.aux ?? k.task, ...(update ? [update.sumSq] : []), ...(signals ? [signals.sums] : [])];
    for (const [name, t] of Object.entries(k.stats ?? {})) {
      layout.stats.push({ name, size: t.size });
      parts.push(t);
    }
    const out = tf.concat(parts.map((t) => tf.reshape(t, [-1]))) as tf.Tensor1D;
    tf.dispose([k.task, ...(k.aux ? [k.aux] : []), ...Object.values(k.stats ?? {})]);
    return out;
  });
  tf.dispose(batch);
  return { packed, layout };
}

function decodeStep(
  step: number,
  values: Float32Array | Int32Array | Uint8Array,
  layout: StepLayout,
  lr: number,
  model: Model,
): { record: StepRecord; stats: Record<string, Float32Array> } {
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
  let from = 3 + layout.updateGroups.length;
  layout.signals.forEach(({ signal, group }, i) => {
    if (signal === 'smallGradShare') (record.smallGradShare ??= {})[group] = at(from + i) / layout.signalCounts[i]!;
  });
  from += layout.signals.length;
  const stats: Record<string, Float32Array> = {};
  for (const { name, size } of layout.stats) {
    stats[name] = Float32Array.from(values.subarray(from, from + size));
    from += size;
  }
  if (model.describeStats) {
    Object.assign(record, model.describeStats(stats));
  } else {
    for (const [name, v] of Object.entries(stats)) {
      if (name === 'expertLoad') {
        const load = Array.from(v, Number);
        record.expertLoad = load;
        Object.assign(record, loadBalanceStats(load));
      } else {
        (record as unknown as Record<string, number>)[name] = v[0]!;
      }
    }
  }
  return { record, stats };
}

/** A metrics number as the loop saw it: JSON wrote non-finite numbers as null. */
const fromJSON = (x: number | null | undefined): number => (typeof x === 'number' ? x : NaN);

export async function train(config: RunConfig, hooks: TrainHooks = {}): Promise<TrainOutcome> {
  const started = performance.now();
  if (config.inject) {
    const problem = injectionProblem(config.inject, config.steps);
    if (problem) throw new Error(`run config: ${problem}`);
  }
  const rng = new Rng(config.seed);
  const task = buildTask(config, rng.fork('batches'));
  const model = buildModel(config, task, rng.fork('init'));
  const optimizer: ComposedOptimizer = buildOptimizer(config, model);
  optimizer.collectUpdateStats = true;
  optimizer.collectSignals = true;
  const routing = describeRouting(optimizer, model);
  const qkClip = qkClipHook(config, model);
  let headClips = 0;
  const tracker = new SpikeTracker(config.detectors);
  const variables = model.variables as tf.Variable[];

  const losses: number[] = [];
  let initialLoss = NaN;
  let minLoss = Infinity;
  let evalLoss: number | null = null;
  let evalAcc: number | null = null;
  let evalBpc: number | null = null;
  let diverged = false;
  let divergedAtStep: number | null = null;
  let step = 0;
  // One evaluation before any update: a run that ends worse than this has failed, whether or not its
  // training loss ever crossed the divergence threshold. It reads no random numbers and changes no
  // state, so the run's numbers are the same with or without it.
  let initialEvalLoss = NaN;
  /** Everything the summary needs from one step: shared by the live loop and a resume's replay. */
  const account = (r: StepRecord): string[] => {
    const loss = fromJSON(r.loss);
    const gradNorm = fromJSON(r.gradNorm);
    if (r.step === 1) initialLoss = loss;
    losses.push(loss);
    if (loss < minLoss) minLoss = loss;
    const flagged = tracker.observe({ step: r.step, loss, gradNorm });
    // A non-finite gradient diverges the run at once: its update has already reached the weights
    // and the optimizer state, so no later step of this run could be trusted.
    if (!Number.isFinite(loss) || loss > config.divergenceFactor * initialLoss || !Number.isFinite(gradNorm)) {
      diverged = true;
      divergedAtStep = r.step;
    }
    return flagged;
  };
  const noteEval = (r: StepRecord) => {
    if (r.evalLoss === undefined) return;
    evalLoss = fromJSON(r.evalLoss);
    evalAcc = r.evalAcc === undefined ? null : fromJSON(r.evalAcc);
    evalBpc = r.evalBpc === undefined ? null : fromJSON(r.evalBpc);
  };
  let firstStep = 1;
  let priorSeconds = 0;
  const completed = () => (diverged ? divergedAtStep! : Math.min(step, config.steps));
  const every = hooks.checkpointEvery ?? 'auto';
  let lastCheckpoint = performance.now();
  const checkpoint = async (at: number) => {
    if (!hooks.onCheckpoint) return;
    hooks.onCheckpoint(await captureState(model, optimizer, at, priorSeconds + (performance.now() - started) / 1000));
    lastCheckpoint = performance.now();
  };

  try {
    // Before a resume restores the trained weights: here the model still holds its seeded initialisation.
    initialEvalLoss = task.evaluate(model).loss;
    if (hooks.resume) {
      const { state, records } = hooks.resume;
      if (records.length !== state.step) throw new CheckpointMismatch(`it covers ${state.step} steps but ${records.length} metrics lines were given`);
      await restoreState(model, optimizer, state);
      // The batch order and the statistics are functions of the steps so far: replay them.
      for (const r of records) {
        task.nextIndices();
        account(r);
        noteEval(r);
        if (r.qkClips !== undefined) headClips += r.qkClips;
      }
      firstStep = state.step + 1;
      priorSeconds = state.wallSeconds;
      step = state.step;
    }
    for (step = firstStep; step <= config.steps && !diverged; step++) {
      if (hooks.betweenSteps) await hooks.betweenSteps();
      if (hooks.shouldStop?.()) {
        step -= 1;
        break;
      }
      const t0 = performance.now();
      const factor = lrFactor(config.schedule, step, config.steps);
      const injected = injectionAt(config.inject, step);
      optimizer.lrScale = config.lrScale * factor * lrInjectionFactor(injected);
      // The batch generator advances exactly as without an injection: only this step's targets change.
      const batch = task.batchOf(task.nextIndices());
      const { packed, layout } = trainStep(
        model,
        optimizer,
        task.kind,
        variables,
        injected?.kind === 'batch' ? corruptTargets(batch, config.seed, step) : batch,
        hooks.corruptGradient?.step === step ? hooks.corruptGradient.value : undefined,
      );
      // The step's one synchronous read: loss, grad norm, aux terms, update stats, model stats.
      const values = await packed.data();
      packed.dispose();
      const { record, stats } = decodeStep(step, values, layout, optimizer.learningRate * optimizer.lrScale, model);
      if (qkClip) {
        // After the optimizer step, from this step's forward maxima (src/train/qk_clip.ts).
        const clips = qkClip(stats);
        record.qkClips = clips;
        headClips += clips;
      }
      const flagged = account(record);
      if (flagged.length > 0) record.spikes = flagged;
      if (!diverged && (step % config.evalEvery === 0 || step === config.steps)) {
        const ev = task.evaluate(model);
        record.evalLoss = ev.loss;
        if (ev.acc !== null) record.evalAcc = ev.acc;
        // Bits per character: the LM's eval loss in nats ÷ ln 2.
        if (task.kind === 'language') record.evalBpc = ev.loss / Math.LN2;
        noteEval(record);
      }
      record.ms = performance.now() - t0;
      hooks.onRecord?.(record);
      if (diverged) break;
      const due = every === 'auto' ? performance.now() - lastCheckpoint >= AUTO_CHECKPOINT_SECONDS * 1000 : step % every === 0;
      if (due && step < config.steps) await checkpoint(step);
    }
    // The final checkpoint (finished, diverged or stopped) stays: it holds the trained weights.
    await checkpoint(completed());
  } finally {
    optimizer.dispose();
    model.dispose();
  }
  const stepsCompleted = completed();
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
    evalBpc,
    headClips: qkClip ? headClips : null,
    spikes: tracker.counts(),
    diverged,
    divergedAtStep,
    stepsCompleted,
    wallSeconds: priorSeconds + (performance.now() - started) / 1000,
    routing,
    parameters: model.variables.reduce((a, v) => a + v.size, 0),
  };
}
