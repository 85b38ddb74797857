/**
 * Fast paths and gradients the training step relies on, registered once per process:
 * - matMul without tfjs's per-call reshapes, and BatchMatMul's gradient without wasm's slow
 *   transposed path;
 * - TopK's gradient, which tfjs lacks (docs/references.md#tfjs-in-node) and the MoE router's top-k selection needs:
 *   each dy of the values goes back to the position its index came from; the integer indices
 *   output has no gradient.
 */
import { tf } from './tf.js';

let registered = false;

/** Swap the last two axes explicitly (an explicit transpose: see matMulT). */
export function swapLastAxes(x: tf.Tensor): tf.Tensor {
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
function matMulT(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor {
  if (tf.getBackend() !== 'wasm') return tf.matMul(a, b, transposeA, transposeB);
  return matMul(transposeA ? swapLastAxes(a) : a, transposeB ? swapLastAxes(b) : b);
}

/**
 * a·b for float32 operands of equal rank (2 or 3, batch dims equal). tf.matMul reshapes both
 * operands to rank 3 and the result back, three extra ops at ~20 µs each on wasm; the
 * BatchMatMul kernel takes rank 2 and 3 as they are, on wasm and cpu alike, and the tape records
 * it with its (re-registered) gradient. Anything else goes through tf.matMul.
 */
export function matMul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const direct =
    a.rank === b.rank &&
    (a.rank === 2 || (a.rank === 3 && a.shape[0] === b.shape[0])) &&
    a.dtype === 'float32' &&
    b.dtype === 'float32' &&
    tf.getBackend() !== 'tensorflow';
  if (!direct) return tf.matMul(a, b);
  return tf.engine().runKernel('BatchMatMul', { a, b }, { transposeA: false, transposeB: false }) as tf.Tensor;
}

/**
 * One-hot rows as float32. tfjs 4.22's wasm OneHot kernel ignores the `dtype` attribute and writes
 * int32 values into the output buffer, so `tf.oneHot(..., 'float32')` reads back as denormal
 * garbage (1 → 1.4e-45) on wasm; the int32 default plus a cast is right on every backend.
 */
export function oneHotFloat(indices: tf.Tensor, depth: number): tf.Tensor {
  return tf.cast(tf.oneHot(indices, depth), 'float32');
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
