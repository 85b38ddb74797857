/**
 * Task losses with short op chains. tf.losses.softmaxCrossEntropy goes through
 * computeWeightedLoss and a two-input custom gradient (it also differentiates the labels): about
 * 45 tfjs ops per step where these need ~17, and at ~20 µs an op on wasm that is most of a small
 * model's step. Same values and gradients (test/train/losses.test.ts checks both).
 */
import { tf } from '../tf.js';

/** Mean over the batch of −Σ_c y_c·log softmax(logits)_c; gradient (softmax − y)/B. */
export function softmaxCrossEntropy(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  const batch = logits.shape[0]!;
  const loss = tf.customGrad((...args) => {
    const [z, save] = args as [tf.Tensor, (tensors: tf.Tensor[]) => void];
    const logProbs = tf.sub(z, tf.logSumExp(z, -1, true));
    save([logProbs]);
    const value = tf.div(tf.neg(tf.sum(tf.mul(labels, logProbs))), batch) as tf.Scalar;
    return {
      value,
      gradFunc: (dy, saved) => tf.mul(tf.sub(tf.exp(saved[0]!), labels), tf.div(dy, batch)),
    };
  });
  return loss(logits) as tf.Scalar;
}

/** Mean over all elements of (prediction − target)². */
export function meanSquaredError(targets: tf.Tensor, predictions: tf.Tensor): tf.Scalar {
  return tf.mean(tf.squaredDifference(predictions, targets)) as tf.Scalar;
}
