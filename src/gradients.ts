/**
 * Gradients registered once per process. TopK has none in tfjs (REFERENCE §4), and the MoE router's
 * top-k selection sits on the tape. The gradient of TopK's values w.r.t. its input scatters each dy back
 * to the position its index came from; the integer indices output has no gradient.
 */
import { tf } from './tf.js';

let registered = false;

/** Swap the last two axes explicitly. */
function transposeLast(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return tf.transpose(x, perm);
}

/**
 * matMul with transpose flags. On wasm, tfjs 4.22's transposed matMul path is 10–15× slower than
 * an explicit transpose followed by a plain matMul (measured here: [128,784]×[784,256] takes
 * ≈ 1.7 ms plain, 20–25 ms with transposeB, ≈ 1.5 ms for the transpose). Other backends keep the flags.
 */
export function matMulT(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor {
  if (tf.getBackend() !== 'wasm') return tf.matMul(a, b, transposeA, transposeB);
  return tf.matMul(transposeA ? transposeLast(a) : a, transposeB ? transposeLast(b) : b);
}

/**
 * Re-register BatchMatMul's gradient with the same algebra as tfjs-core's
 * (gradients/BatchMatMul_grad.ts) but routed through matMulT.
 */
function registerMatMulGradient(): void {
  tf.registerGradient({
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const g = dy as tf.Tensor;
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return { a: () => matMulT(g, b, false, true), b: () => matMulT(a, g, true, false) };
      if (!transposeA && transposeB) return { a: () => matMulT(g, b, false, false), b: () => matMulT(g, a, true, false) };
      if (transposeA && !transposeB) return { a: () => matMulT(b, g, false, true), b: () => matMulT(a, g, false, false) };
      return { a: () => matMulT(b, g, true, true), b: () => matMulT(g, a, true, true) };
    },
  });
}

/** Register once per process (tfjs warns when a gradient is overridden, so do it only once). */
export function registerGradients(): void {
  if (registered) return;
  registered = true;
  const warn = console.warn;
  // tfjs prints "Overriding the gradient for 'BatchMatMul'": expected, not worth a line per run.
  console.warn = () => {};
  try {
    registerMatMulGradient();
  } finally {
    console.warn = warn;
  }
  if (tf.getGradient('TopK') !== undefined) return;
  tf.registerGradient({
    kernelName: 'TopK',
    inputsToSave: ['x'],
    outputsToSave: [false, true],
    gradFunc: (dy, saved) => {
      const [x, indices] = saved as [tf.Tensor, tf.Tensor];
      const dValues = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor;
      return {
        x: () => {
          const n = x.shape[x.rank - 1]!;
          // Σ_j oneHot(indices[..., j]) · dy[..., j]: every selected position gets its value's gradient.
          const scattered = tf.mul(tf.oneHot(tf.cast(indices, 'int32'), n), tf.expandDims(dValues, -1));
          return tf.sum(scattered, -2);
        },
      };
    },
  });
}
