/** What the training loop needs from a model, whatever its architecture. */
import type { tf } from '../tf.js';

/**
 * The part a parameter plays. Muon takes `hidden` matrices (and expert banks); `head`, `router`,
 * `bias`, `embedding` (token and position tables) and `gain` (norm gains) go to its internal AdamW
 * (docs/references.md#muon, Keller's rule), except that an experiment may put the router on Muon.
 */
export type ParamRole = 'hidden' | 'head' | 'router' | 'bias' | 'embedding' | 'gain';

export interface ForwardResult {
  /** Logits (classification) or predictions (regression), [batch, outputDim]. */
  readonly output: tf.Tensor2D;
  /** Extra loss terms already scaled by their coefficients (e.g. load balancing, z-loss). */
  readonly auxLoss?: tf.Scalar;
  /** Scalars to log, e.g. MoE balance statistics; computed without gradient significance. */
  readonly stats?: Readonly<Record<string, tf.Tensor>>;
}

export interface Model {
  readonly kind: string;
  readonly variables: readonly tf.Variable[];
  /** Role of each trainable variable, by variable name. */
  readonly roles: Readonly<Record<string, ParamRole>>;
  forward(x: tf.Tensor2D): ForwardResult;
  /**
   * Turns this step's read-back stats (flat float arrays by stat name) into metrics fields.
   * Without it, scalar stats are logged by name and `expertLoad` with its balance statistics.
   */
  describeStats?(values: Readonly<Record<string, Float32Array>>): Record<string, unknown>;
  /** Called after each optimizer step with this step's stats (e.g. DeepSeek-V3 bias balancing). */
  afterStep?(stats: Readonly<Record<string, tf.Tensor>>): void;
  /**
   * Models with attention: QK-clip (docs/references.md#transformer-instabilities), given each
   * head's max logit of this step (its read-back `attnLogitMax` stat); returns the heads rescaled.
   * A model without it cannot be clipped (src/train/qk_clip.ts says so).
   */
  clipAttentionLogits?(headMax: ArrayLike<number>, threshold: number, alpha: number): number;
  /**
   * Training state kept outside `variables` that changes as the model trains (e.g. DeepSeek-V3
   * selection biases), by name: a checkpoint saves it and a resumed run hands it back to
   * `restoreState` (which copies the values; the caller disposes the tensors it passes).
   */
  state?(): Readonly<Record<string, tf.Tensor>>;
  restoreState?(state: Readonly<Record<string, tf.Tensor>>): void;
  dispose(): void;
}

export function parameterCount(model: Model): number {
  return model.variables.reduce((a, v) => a + v.size, 0);
}
