/**
 * Study arms: a dimension beyond optimizer × LR multiplier. An arm is a small declarative override
 * of a run's config (a mitigation, a number format, a step-size rule), run on a task at the LR
 * multipliers where AdamW or Muon first fails in the stress phase (issue 13, item 3). `none` is the
 * stress runs themselves. Arms whose feature does not exist yet carry `needs`: a study that lists
 * them plans no runs for them and its report says they were not run, and why.
 */
import type { RunConfig } from '../train/config.js';
import { PRECISION_PRESETS, type PrecisionSpec } from '../precision/qat.js';

export const ARM_NAMES = ['none', 'qkNorm', 'zLoss', 'qkClip', 'bf16', 'fp4', 'muon-match-rms'] as const;
export type ArmName = (typeof ARM_NAMES)[number];

export interface ArmOverride {
  /** Merged (shallowly) into the optimizer's options. */
  readonly optimizerOptions?: Readonly<Record<string, unknown>>;
  /** Merged (shallowly) into the model spec. */
  readonly model?: Readonly<Record<string, unknown>>;
  /** Replaces the run's simulated precision (src/precision/qat.ts). */
  readonly precision?: PrecisionSpec;
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
  /** Sub-claim group: (d) mitigations, (e) precision; 'step-size' separates step size from direction. */
  readonly group: 'control' | 'mitigation' | 'precision' | 'step-size';
  /** 'both': each optimizer runs with the override; 'treatment': only the treatment (Muon) does,
   *  and is compared with the baseline's stress runs at the same multiplier. */
  readonly appliesTo: 'both' | 'treatment';
  readonly override: ArmOverride;
  /** Set while the feature is missing: what the arm needs before it can run. */
  readonly needs?: string;
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
    source: 'Dehghani et al. 2023; Wortsman et al. 2023 (REFERENCE §9)',
    group: 'mitigation',
    appliesTo: 'both',
    override: {},
    needs: 'qk-norm in the transformer LM (issue 9)',
  },
  zLoss: {
    name: 'zLoss',
    description: 'output z-loss 1e-4·(log Z)² on the LM head',
    source: 'PaLM; Wortsman et al. 2023 (REFERENCE §9)',
    group: 'mitigation',
    appliesTo: 'both',
    override: {},
    needs: 'the output z-loss in the transformer LM (issue 9)',
  },
  qkClip: {
    name: 'qkClip',
    description: 'QK-clip: rescale W_q, W_k when the max attention logit exceeds τ (with Muon: MuonClip)',
    source: 'Kimi K2 (REFERENCE §8, §9)',
    group: 'mitigation',
    appliesTo: 'both',
    override: {},
    needs: 'QK-clip in the transformer LM (issue 9)',
  },
  bf16: {
    name: 'bf16',
    description: 'bfloat16 weights and activations in every matmul (quantisation-aware, straight-through; float32 master weights)',
    source: 'REFERENCE §10; the precision preset bf16',
    group: 'precision',
    appliesTo: 'both',
    override: { precision: PRECISION_PRESETS.bf16 },
  },
  fp4: {
    name: 'fp4',
    description: "the seed's fp4 recipe: MXFP4 weights, FP8 E4M3 activations (quantisation-aware, straight-through)",
    source: 'REFERENCE §10; the precision preset fp4',
    group: 'precision',
    appliesTo: 'both',
    override: { precision: PRECISION_PRESETS.fp4 },
  },
  'muon-match-rms': {
    name: 'muon-match-rms',
    description:
      "Muon with lrAdjust 'match_rms_adamw' (update RMS ≈ AdamW's) at AdamW's tuned LR, its internal AdamW at the same LR: separates \"Muon is more stable\" from \"Muon takes smaller steps\"",
    source: 'Moonlight (Liu et al. 2025); torch.optim.Muon adjust_lr_fn (REFERENCE §1)',
    group: 'step-size',
    appliesTo: 'treatment',
    override: { optimizerOptions: { lrAdjust: 'match_rms_adamw' }, lrFrom: 'baseline', internalAdamwAtMainLr: true },
  },
};

export function isArmName(x: string): x is ArmName {
  return (ARM_NAMES as readonly string[]).includes(x);
}

/** Whether an arm can run today. */
export const armRunnable = (name: ArmName): boolean => ARMS[name].needs === undefined;

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
  return {
    ...config,
    optimizer: { ...config.optimizer, options },
    ...(o.model ? { model: { ...config.model, ...o.model } as RunConfig['model'] } : {}),
    ...(o.precision ? { precision: o.precision } : {}),
    lrScale,
  };
}
