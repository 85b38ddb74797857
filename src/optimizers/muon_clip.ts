/**
 * MuonClip (Kimi K2, docs/references.md#transformer-instabilities): Muon plus QK-clip. The update rule is Muon's; QK-clip is not
 * an optimizer transform (it needs each head's maximum attention logit from the step's forward),
 * so this definition declares it as after-step work (`afterStep`) and the training loop applies it:
 * heads whose max pre-softmax logit exceeded τ get W_q·γ^α and W_k·γ^(1−α), γ = τ / max.
 * With any other optimizer the same clip is the experiment's `qkClip` setting.
 */
import { QK_CLIP_DEFAULTS } from './after_step.js';
import { defineOptimizer } from './define.js';
import { muonDirection, muonOptions, muonPlan } from './muon.js';
import { numberOption } from './options.js';

const KIMI = 'Kimi K2 (2025)';

export const MuonClip = defineOptimizer({
  name: 'muon-clip',
  className: 'MuonClip',
  description: 'Muon + QK-clip (Kimi K2): attention heads whose max logit exceeded τ are rescaled after each step (transformer runs)',
  options: {
    ...muonOptions,
    qkClipThreshold: numberOption(QK_CLIP_DEFAULTS.threshold, { min: 0, minExclusive: true }, 'QK-clip threshold τ on the max pre-softmax attention logit', KIMI),
    qkClipAlpha: numberOption(QK_CLIP_DEFAULTS.alpha, { min: 0, max: 1 }, 'share α of the rescale on W_q (W_k gets 1 − α)', KIMI),
  },
  plan: (o) => muonPlan(o, muonDirection(o)),
  afterStep: (o) => ({ qkClip: { threshold: o.qkClipThreshold, alpha: o.qkClipAlpha } }),
});
export type MuonClip = InstanceType<typeof MuonClip>;
