import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { tf } from '../../src/tf.js';
import { meanSquaredError, softmaxCrossEntropy } from '../../src/train/losses.js';
import { Rng } from '../../src/data/rng.js';

beforeAll(async () => {
  await initBackend();
});

function randomTensor(rng: Rng, shape: number[], scale = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.normals(n, scale), shape);
}

function oneHot(rng: Rng, rows: number, classes: number): tf.Tensor {
  return tf.oneHot(tf.tensor1d(Array.from({ length: rows }, () => rng.int(classes)), 'int32'), classes).toFloat();
}

describe('softmaxCrossEntropy', () => {
  it('equals tfjs softmaxCrossEntropy in value and gradient', () => {
    const rng = new Rng(3);
    const logits = randomTensor(rng, [16, 7], 3);
    const labels = oneHot(rng, 16, 7);
    const ours = tf.valueAndGrad((z: tf.Tensor) => softmaxCrossEntropy(labels, z))(logits);
    const theirs = tf.valueAndGrad((z: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, z) as tf.Scalar)(logits);
    expect(ours.value.dataSync()[0]).toBeCloseTo(theirs.value.dataSync()[0]!, 5);
    const diff = tf.max(tf.abs(tf.sub(ours.grad, theirs.grad))).dataSync()[0]!;
    expect(diff).toBeLessThan(1e-6);
  });

  it('matches the closed form on a hand example: uniform logits give log C', () => {
    const labels = tf.tensor2d([[0, 1, 0, 0]]);
    const loss = softmaxCrossEntropy(labels, tf.zeros([1, 4])).dataSync()[0]!;
    expect(loss).toBeCloseTo(Math.log(4), 6);
  });

  it('is stable for large logits (no overflow)', () => {
    const loss = softmaxCrossEntropy(tf.tensor2d([[1, 0]]), tf.tensor2d([[1000, 0]])).dataSync()[0]!;
    expect(loss).toBeCloseTo(0, 6);
    const loss2 = softmaxCrossEntropy(tf.tensor2d([[0, 1]]), tf.tensor2d([[1000, 0]])).dataSync()[0]!;
    expect(loss2).toBeCloseTo(1000, 2);
  });
});

describe('meanSquaredError', () => {
  it('equals tfjs meanSquaredError in value and gradient', () => {
    const rng = new Rng(5);
    const pred = randomTensor(rng, [8, 3]);
    const target = randomTensor(rng, [8, 3]);
    const ours = tf.valueAndGrad((p: tf.Tensor) => meanSquaredError(target, p))(pred);
    const theirs = tf.valueAndGrad((p: tf.Tensor) => tf.losses.meanSquaredError(target, p) as tf.Scalar)(pred);
    expect(ours.value.dataSync()[0]).toBeCloseTo(theirs.value.dataSync()[0]!, 5);
    expect(tf.max(tf.abs(tf.sub(ours.grad, theirs.grad))).dataSync()[0]!).toBeLessThan(1e-6);
  });
});
