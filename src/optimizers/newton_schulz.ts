/**
 * Newton–Schulz orthogonalisation (docs/references.md#muon): an odd matrix polynomial iterated on G/‖G‖_F
 * that drives every singular value towards ~1, giving ≈ U·S′·Vᵀ with S′ in about [0.5, 1.5]
 * for Keller Jordan's quintic coefficients. It is a matrix iteration, not a Newton method on the loss.
 */
import { tf } from '../tf.js';
import { matMul, swapLastAxes } from '../ops.js';
import { roundToFormat } from '../precision/round.js';

export type NsCoefficients = readonly [number, number, number];

/** KellerJordan/Muon `zeropower_via_newtonschulz5`: (a, b, c) tuned for fast, not exact, convergence. */
export const KELLER_NS_COEFFICIENTS: NsCoefficients = [3.4445, -4.775, 2.0315];
export const KELLER_NS_STEPS = 5;
/** Keller's normaliser guard: X / (‖X‖_F + 1e-7). */
export const KELLER_NS_EPSILON = 1e-7;

export interface NewtonSchulzOptions {
  steps?: number;
  /** One (a, b, c) for every step, or one per step; a short list holds its last entry (as Polar Express does). */
  coefficients?: NsCoefficients | readonly NsCoefficients[];
  epsilon?: number;
  /**
   * 'fp32' (default): float32 throughout. 'bf16': KellerJordan/Muon's `G.bfloat16()` path emulated
   * (docs/references.md#muon and #number-formats): see zeropowerBf16.
   */
  precision?: NsPrecision;
}

export const NS_PRECISIONS = ['fp32', 'bf16'] as const;
export type NsPrecision = (typeof NS_PRECISIONS)[number];

function isTripleList(c: NsCoefficients | readonly NsCoefficients[]): c is readonly NsCoefficients[] {
  return Array.isArray(c[0]);
}

function coefficientsForStep(c: NsCoefficients | readonly NsCoefficients[], step: number): NsCoefficients {
  if (!isTripleList(c)) return c as NsCoefficients;
  return c[Math.min(step, c.length - 1)]!;
}

/**
 * Orthogonalise the last two axes of `g` (rank 2: one matrix; rank 3: a bank, each matrix on its
 * own). Keller's iteration X ← a·X + (b·A + c·A²)·X with A = X·Xᵀ on the wide orientation,
 * written as X ← P·X with P = a·I + b·A + c·A² (one fewer pass over X), and for a tall matrix
 * the mirror image Y ← Y·P with A = Yᵀ·Y, which is the same as transposing, iterating and
 * transposing back (hence NS(Gᵀ) = NS(G)ᵀ) without the two transposes. Either way the Gram
 * matrix is the small side. Float32 throughout.
 */
export function zeropowerViaNewtonSchulz(g: tf.Tensor, options: NewtonSchulzOptions = {}): tf.Tensor {
  const steps = options.steps ?? KELLER_NS_STEPS;
  const coefficients = options.coefficients ?? KELLER_NS_COEFFICIENTS;
  const eps = options.epsilon ?? KELLER_NS_EPSILON;
  if (g.rank < 2) throw new Error(`Newton–Schulz needs a matrix or a stack of matrices, got shape [${g.shape}]`);
  if (options.precision === 'bf16') return zeropowerBf16(g, steps, coefficients, eps);
  if (splitsBank(g)) return tf.tidy(() => tf.stack(tf.unstack(g).map((m) => zeropowerViaNewtonSchulz(m, options))));
  return tf.tidy(() => {
    const rows = g.shape[g.rank - 2]!;
    const cols = g.shape[g.rank - 1]!;
    const tall = rows > cols;
    const eye = tf.eye(Math.min(rows, cols));
    const norm = tf.sqrt(tf.sum(tf.square(g), [-2, -1], true));
    let x = tf.div(g, tf.add(norm, eps));
    for (let i = 0; i < steps; i++) {
      const [a, b, c] = coefficientsForStep(coefficients, i);
      const xt = swapLastAxes(x);
      const gram = tall ? matMul(xt, x) : matMul(x, xt);
      // P = a·I + b·A + c·A² = a·I + A·(b·I + c·A); A and P are symmetric and commute.
      const poly = tf.add(tf.mul(eye, a), matMul(gram, tf.add(tf.mul(gram, c), tf.mul(eye, b))));
      x = tall ? matMul(x, poly) : matMul(poly, x);
    }
    return x;
  });
}

/** The smallest Gram side at which a bank is orthogonalised matrix by matrix on wasm. */
export const SPLIT_BANK_MIN_SIDE = 32;

/**
 * On wasm a rank-3 matMul takes a slow generic path (≈ 1–2 GFLOP/s against ≈ 15 for 2-D), so a
 * bank whose matrices are not tiny runs faster as one 2-D iteration per matrix: measured here, an
 * [8, 64, 64] expert bank 83 → 34 ms, [8, 48, 48] 17 → 7 ms; below a Gram side of 32 the per-call
 * cost wins and the batched path is faster ([8, 16, 32]: 4.5 vs 9 ms). The same iteration per
 * matrix either way; only the floating-point order differs (≈ 1e-6).
 */
function splitsBank(g: tf.Tensor): boolean {
  if (g.rank !== 3 || tf.getBackend() !== 'wasm') return false;
  return Math.min(g.shape[1]!, g.shape[2]!) >= SPLIT_BANK_MIN_SIDE;
}

/**
 * Keller's iteration as `zeropower_via_newtonschulz5` runs it on `G.bfloat16()`, emulated in
 * float32 tensors that hold bf16 values: the input is rounded to bf16; every matmul takes bf16
 * operands and its float32-accumulated result is rounded to bf16 (torch's CPU bf16 matmul,
 * docs/references.md#number-formats); every elementwise result (the scalings a·X, b·A, c·A, the sums, the normalised
 * X) is rounded to bf16; the Frobenius norm is accumulated in float32 and rounded (torch's
 * reduction opmath). Keller's literal order is kept — tall inputs transposed first and back at
 * the end, B = b·A + (c·A)·A, X ← a·X + B·X — rather than the float32 path's rearrangement,
 * because in bf16 the rounding order changes the result. The output (bf16 values) is used as
 * float32, as torch's `p.add_(update)` upcasts it.
 */
function zeropowerBf16(g: tf.Tensor, steps: number, coefficients: NsCoefficients | readonly NsCoefficients[], eps: number): tf.Tensor {
  const bf16 = (t: tf.Tensor) => roundToFormat(t, 'bf16');
  return tf.tidy(() => {
    const tall = g.shape[g.rank - 2]! > g.shape[g.rank - 1]!;
    let x = bf16(g);
    if (tall) x = swapLastAxes(x);
    const norm = bf16(tf.sqrt(tf.sum(tf.square(x), [-2, -1], true)));
    x = bf16(tf.div(x, bf16(tf.add(norm, eps))));
    for (let i = 0; i < steps; i++) {
      const [a, b, c] = coefficientsForStep(coefficients, i);
      const gram = bf16(matMul(x, swapLastAxes(x)));
      const poly = bf16(tf.add(bf16(tf.mul(gram, b)), bf16(matMul(bf16(tf.mul(gram, c)), gram))));
      x = bf16(tf.add(bf16(tf.mul(x, a)), bf16(matMul(poly, x))));
    }
    return tall ? swapLastAxes(x) : x;
  });
}
