/**
 * Newton–Schulz orthogonalisation (REFERENCE §1): an odd matrix polynomial iterated on G/‖G‖_F
 * that drives every singular value towards ~1, giving ≈ U·S′·Vᵀ with S′ in about [0.5, 1.5]
 * for Keller Jordan's quintic coefficients. It is a matrix iteration, not a Newton method on the loss.
 */
import { tf } from '../tf.js';
import { matMul, swapLastAxes } from '../ops.js';

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
}

function isTripleList(c: NsCoefficients | readonly NsCoefficients[]): c is readonly NsCoefficients[] {
  return Array.isArray(c[0]);
}

export function coefficientsForStep(c: NsCoefficients | readonly NsCoefficients[], step: number): NsCoefficients {
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
