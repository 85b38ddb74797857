/**
 * Study arms: a dimension beyond optimizer × LR multiplier. An arm is a small declarative override
 * of a run's config (a mitigation, a number format, a step-size rule), run on a task at the LR
 * multipliers where AdamW or Muon first fails in the stress phase. `none` is the
 * stress runs themselves. The attention arms (qkNorm, zLoss on the LM head, qkClip) need a
 * transformer: listed on another task they plan no runs and the report says so, and why.
 */
import { QK_CLIP_DEFAULTS, type QkClipSpec } from '../optimizers/index.js';
import type { RunConfig } from '../train/config.js';
import { PRECISION_PRESETS, type PrecisionSpec } from '../precision/qat.js';
import { warmupSteps } from '../train/schedule.js';

export const ARM_NAMES = ['none', 'qkNorm', 'zLoss', 'qkClip', 'bf16', 'fp4', 'muon-match-rms', 'wsd'] as const;
export type ArmName = (typeof ARM_NAMES)[number];

export interface ArmOverride {
  /** Merged (shallowly) into the optimizer's options. */
  readonly optimizerOptions?: Readonly<Record<string, unknown>>;
  /** Merged (shallowly) into the model spec. */
  readonly model?: Readonly<Record<string, unknown>>;
  /** Replaces the run's simulated precision (src/precision/qat.ts). */
  readonly precision?: PrecisionSpec;
  /** QK-clip after every optimizer step (docs/references.md#transformer-instabilities). */
  readonly qkClip?: QkClipSpec;
  /**
   * Replaces the stress run's constant LR by warm-up–stable–decay over the same horizon, keeping the
   * stress run's warm-up: the decay covers the last `decayFraction` of the run.
   */
  readonly wsdDecayFraction?: number;
  /**
   * 'baseline': the run's main learning rate is the *baseline's* tuned LR × multiplier, not its own
   * optimizer's (Moonlight reuses AdamW's LR once Muon's update RMS is matched to AdamW's).
   */
  readonly lrFrom?: 'baseline';
  /**
   * true: a Muon-family optimizer's internal AdamW (head, biases, router) gets the same learning rate
   * as the main group, as in Moonlight, instead of its own base LR scaled alongside.
   */
  readonly internalAdamwAtMainLr?: boolean;
}

export interface ArmDef {
  readonly name: ArmName;
  readonly description: string;
  /** Where the setting comes from. */
  readonly source: string;
  /**
   * Sub-claim group: (d) mitigations, (e) precision; 'step-size' separates step size from direction;
   * 'schedule' asks whether a late LR decay changes the late stage (no sub-claim of its own).
   */
  readonly group: 'control' | 'mitigation' | 'precision' | 'step-size' | 'schedule';
  /** 'both': each optimizer runs with the override; 'treatment': only the treatment (Muon) does,
   *  and is compared with the baseline's stress runs at the same multiplier. */
  readonly appliesTo: 'both' | 'treatment';
  readonly override: ArmOverride;
  /** The model feature the arm acts on; on a task without it the arm is not run. */
  readonly requires?: 'attention';
}

export const ARMS: Readonly<Record<ArmName, ArmDef>> = {
  none: {
    name: 'none',
    description: 'no change (the stress runs)',
    source: '—',
    group: 'control',
    appliesTo: 'both',
    override: {},
  },
  qkNorm: {
    name: 'qkNorm',
    description: 'RMS-normalised queries and keys before the attention logits',
    source: 'Dehghani et al. 2023; Wortsman et al. 2023 (docs/references.md#transformer-instabilities)',
    group: 'mitigation',
    appliesTo: 'both',
    override: { model: { qkNorm: true } },
    requires: 'attention',
  },
  zLoss: {
    name: 'zLoss',
    description: 'output z-loss 1e-4·(log Z)² on the LM head',
    source: 'PaLM; Wortsman et al. 2023 (docs/references.md#transformer-instabilities)',
    group: 'mitigation',
    appliesTo: 'both',
    // 1e-4: PaLM's and Wortsman et al.'s coefficient (docs/references.md#transformer-instabilities).
    override: { model: { outputZLossCoef: 1e-4 } },
    requires: 'attention',
  },
  qkClip: {
    name: 'qkClip',
    description: 'QK-clip: rescale W_q, W_k when the max attention logit exceeds τ (with Muon: MuonClip)',
    source: 'Kimi K2 (docs/references.md#the-claim, #transformer-instabilities)',
    group: 'mitigation',
    appliesTo: 'both',
    // τ = 100, α = 0.5: Kimi K2's settings (docs/references.md#transformer-instabilities).
    override: { qkClip: QK_CLIP_DEFAULTS },
    requires: 'attention',
  },
  bf16: {
    name: 'bf16',
    description: 'bfloat16 weights and activations in every matmul (quantisation-aware, straight-through; float32 master weights)',
    source: 'docs/references.md#number-formats; the precision preset bf16',
    group: 'precision',
    appliesTo: 'both',
    override: { precision: PRECISION_PRESETS.bf16 },
  },
  fp4: {
    name: 'fp4',
    description: "the seed's fp4 recipe: MXFP4 weights, FP8 E4M3 activations (quantisation-aware, straight-through)",
    source: 'docs/references.md#number-formats; the precision preset fp4',
    group: 'precision',
    appliesTo: 'both',
    override: { precision: PRECISION_PRESETS.fp4 },
  },
  'muon-match-rms': {
    name: 'muon-match-rms',
    description:
      "Muon with lrAdjust 'match_rms_adamw' (update RMS ≈ AdamW's) at AdamW's tuned LR, its internal AdamW at the same LR: separates \"Muon is more stable\" from \"Muon takes smaller steps\"",
    source: 'Moonlight (Liu et al. 2025); torch.optim.Muon adjust_lr_fn (docs/references.md#muon)',
    group: 'step-size',
    appliesTo: 'treatment',
    override: { optimizerOptions: { lrAdjust: 'match_rms_adamw' }, lrFrom: 'baseline', internalAdamwAtMainLr: true },
  },
  wsd: {
    name: 'wsd',
    description: 'warm-up–stable–decay instead of a constant LR: linear decay to 0 over the last 20% of the stress run',
    source: 'Hu et al. 2024 (MiniCPM); a 20% cooldown as in Hägele et al. 2024',
    group: 'schedule',
    appliesTo: 'both',
    override: { wsdDecayFraction: 0.2 },
  },
};

export function isArmName(x: string): x is ArmName {
  return (ARM_NAMES as readonly string[]).includes(x);
}

/** Why an arm cannot run on a model of this kind (undefined: it can). */
export function armNeeds(name: ArmName, modelKind: string): string | undefined {
  return ARMS[name].requires === 'attention' && modelKind !== 'transformer' ? 'attention: a transformer task' : undefined;
}

/** Labels an arm runs for. */
export function armLabels(name: ArmName, baseline: string, treatment: string): string[] {
  return ARMS[name].appliesTo === 'both' ? [baseline, treatment] : [treatment];
}

/**
 * The config of an arm run: a stress run's `config` with the arm's override and LR scale `lrScale`
 * (the caller applies the override's LR rule: it knows the tuned LRs).
 */
export function applyArm(config: RunConfig, name: ArmName, lrScale: number): RunConfig {
  const o = ARMS[name].override;
  const options: Record<string, unknown> = { ...config.optimizer.options, ...(o.optimizerOptions ?? {}) };
  if (o.internalAdamwAtMainLr) {
    const inner = typeof options['adamw'] === 'object' && options['adamw'] !== null ? (options['adamw'] as Record<string, unknown>) : {};
    // lrScale multiplies every group, so equal base LRs give equal LRs.
    options['adamw'] = { ...inner, learningRate: options['learningRate'] };
  }
  const needs = armNeeds(name, config.model.kind);
  if (needs) throw new Error(`arm ${name} needs ${needs}; this run's model is "${config.model.kind}"`);
  return {
    ...config,
    optimizer: { ...config.optimizer, options },
    ...(o.model ? { model: { ...config.model, ...o.model } as RunConfig['model'] } : {}),
    ...(o.precision ? { precision: o.precision } : {}),
    ...(o.qkClip ? { qkClip: o.qkClip } : {}),
    ...(o.wsdDecayFraction !== undefined ? { schedule: { kind: 'wsd', warmup: warmupSteps(config.schedule), decayFraction: o.wsdDecayFraction, minFactor: 0 } } : {}),
    lrScale,
  };
}
