/**
 * QK-clip's one place in training (Kimi K2, docs/references.md#transformer-instabilities): the run's
 * setting (`RunConfig.qkClip`: from the experiment, or declared by its optimizer as MuonClip does)
 * becomes an after-step hook on a model that declares `clipAttentionLogits`. The loop calls the
 * hook right after each optimizer step, with that step's read-back stats.
 */
import type { Model } from '../models/model.js';
import type { RunConfig } from './config.js';

/** Rescales the heads over τ from this step's stats; returns how many it rescaled. */
export type QkClipHook = (stats: Readonly<Record<string, Float32Array>>) => number;

/**
 * The run's QK-clip hook, or undefined when the run has no QK-clip setting. A model without
 * attention gets none either (validation refuses that pairing in a spec before any run starts).
 */
export function qkClipHook(config: RunConfig, model: Model): QkClipHook | undefined {
  const setting = config.qkClip ?? null;
  const clip = model.clipAttentionLogits?.bind(model);
  if (!setting || !clip) return undefined;
  return (stats) => {
    const headMax = stats['attnLogitMax'];
    if (!headMax) throw new Error(`QK-clip: model "${model.kind}" reported no attnLogitMax stat this step`);
    return clip(headMax, setting.threshold, setting.alpha);
  };
}
