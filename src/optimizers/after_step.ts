/**
 * Work an optimizer may ask the training loop to do after each step, outside the gradient update,
 * because it needs the model and that step's forward statistics. Declared by the optimizer's
 * definition (`afterStep`), read by the run's config: no option names are matched anywhere.
 *
 * The only such work so far is QK-clip (Kimi K2, docs/references.md#transformer-instabilities):
 * attention heads whose max pre-softmax logit exceeded τ get W_q·γ^α and W_k·γ^(1−α), γ = τ / max.
 * The same setting is an experiment's `qkClip` for any optimizer.
 */

/** A QK-clip setting: after each optimizer step, heads whose max logit exceeded τ are rescaled. */
export interface QkClipSpec {
  /** τ (Kimi K2: 100). */
  readonly threshold: number;
  /** The share α of the rescale put on W_q (W_k gets 1 − α); Kimi K2: 0.5. */
  readonly alpha: number;
}

/** Kimi K2's τ and α (docs/references.md#transformer-instabilities). */
export const QK_CLIP_DEFAULTS: QkClipSpec = { threshold: 100, alpha: 0.5 };

/** What an optimizer declares for after its steps; every field optional, none by default. */
export interface AfterStepRequest {
  readonly qkClip?: QkClipSpec;
}
