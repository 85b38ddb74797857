/**
 * What the training loop trains on: a batch source and an evaluation, for either kind of data.
 * Vector tasks (MNIST, teacher, regimes) draw shuffled rows; the text task (Brown) draws windows
 * of context + 1 characters at uniform random offsets and evaluates on fixed held-out windows.
 * Batches come in two halves so that `sandbox export` can record the batch order (row indices or
 * window offsets) without tensors: `nextIndices()` consumes the run's batch generator,
 * `batchOf(indices)` builds the tensors.
 */
import { tf } from '../tf.js';
import { batchIndices, gatherRows, type Dataset } from '../data/index.js';
import { evalOffsets, loadBrown, windowOffsets, windowsToBatch, type TextCorpus } from '../data/brown.js';
import type { Rng } from '../data/rng.js';
import type { Model } from '../models/model.js';
import { oneHotFloat } from '../ops.js';
import { meanSquaredError, softmaxCrossEntropy } from './losses.js';
import { buildDataset } from './build.js';
import { DEFAULT_EVAL_WINDOWS, type RunConfig } from './config.js';

export type TaskKind = 'classification' | 'regression' | 'language';

export interface TrainTask {
  readonly kind: TaskKind;
  readonly inputDim: number;
  readonly outputDim: number;
  /** Rows (vector tasks) or window offsets into the training text (text), drawn from the batch generator. */
  nextIndices(): Int32Array;
  /** [x, y] for those indices; the caller disposes them. Text: x int32 ids [B, T], y one-hot targets [B·T, V]. */
  batchOf(indices: Int32Array): [tf.Tensor2D, tf.Tensor2D];
  /** Mean loss (nats for text) on the fixed evaluation set, and accuracy for classification. */
  evaluate(model: Model): { loss: number; acc: number | null };
}

/** Evaluation runs in chunks so memory stays flat on large test sets. */
const EVAL_CHUNK = 1000;

export function taskLoss(kind: TaskKind, y: tf.Tensor, output: tf.Tensor): tf.Scalar {
  return kind === 'regression' ? meanSquaredError(y, output) : softmaxCrossEntropy(y, output);
}

function vectorTask(data: Dataset, config: RunConfig, batchRng: Rng): TrainTask {
  const nextBatch = batchIndices(data.train.n, config.batchSize, batchRng);
  const xBuf = new Float32Array(config.batchSize * data.inputDim);
  const yBuf = new Float32Array(config.batchSize * data.outputDim);
  return {
    kind: data.kind,
    inputDim: data.inputDim,
    outputDim: data.outputDim,
    nextIndices: nextBatch,
    batchOf(idx) {
      gatherRows(data.train.x, data.inputDim, idx, xBuf);
      gatherRows(data.train.y, data.outputDim, idx, yBuf);
      return [tf.tensor2d(xBuf, [idx.length, data.inputDim]), tf.tensor2d(yBuf, [idx.length, data.outputDim])];
    },
    evaluate(model) {
      const split = data.test;
      const n = Math.min(split.n, config.evalSize ?? split.n);
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
    },
  };
}

/** Input ids [n, T] and one-hot targets [n·T, V] of text windows. */
function textBatch(ids: Uint8Array, offsets: Int32Array, context: number, vocab: number): [tf.Tensor2D, tf.Tensor2D] {
  const { inputs, targets } = windowsToBatch(ids, offsets, context);
  const x = tf.tensor2d(inputs, [offsets.length, context], 'int32');
  const y = tf.tidy(() => oneHotFloat(tf.tensor1d(targets, 'int32'), vocab) as tf.Tensor2D);
  return [x, y];
}

/** The least number of held-out windows evaluated per forward pass. */
const EVAL_CHUNK_WINDOWS = 64;

function textTask(corpus: TextCorpus, config: RunConfig, batchRng: Rng): TrainTask {
  if (config.model.kind !== 'transformer') throw new Error('text data needs model.kind "transformer"');
  const T = config.model.context;
  const V = corpus.vocab.length;
  const window = T + 1;
  const evalWindows = evalOffsets(corpus.heldOut.length, window, config.evalSize ?? DEFAULT_EVAL_WINDOWS);
  // Windows per evaluation forward pass: at least EVAL_CHUNK_WINDOWS, so a small training batch
  // does not turn one evaluation into hundreds of tiny passes (per-op overhead dominates those).
  const evalChunk = Math.max(EVAL_CHUNK_WINDOWS, config.batchSize);
  return {
    kind: 'language',
    inputDim: V,
    outputDim: V,
    nextIndices: () => windowOffsets(corpus.train.length, window, config.batchSize, batchRng),
    batchOf: (offsets) => textBatch(corpus.train, offsets, T, V),
    evaluate(model) {
      // Mean cross-entropy over every position of the N held-out windows (N·T predictions).
      let lossSum = 0;
      for (let start = 0; start < evalWindows.length; start += evalChunk) {
        const offsets = evalWindows.subarray(start, Math.min(evalWindows.length, start + evalChunk));
        const batch = textBatch(corpus.heldOut, offsets, T, V);
        lossSum += tf.tidy(() => tf.mul(softmaxCrossEntropy(batch[1], model.forward(batch[0]).output), offsets.length).dataSync()[0]!);
        tf.dispose(batch);
      }
      return { loss: lossSum / evalWindows.length, acc: null };
    },
  };
}

/** The task of a run. `batchRng` is the run's batch generator (consumed). */
export function buildTask(config: RunConfig, batchRng: Rng): TrainTask {
  if (config.data.kind === 'brown') return textTask(loadBrown(), config, batchRng);
  return vectorTask(buildDataset(config.data), config, batchRng);
}
