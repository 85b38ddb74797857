/**
 * A tiny mixture-of-experts layer (docs/references.md#moe): linear router → softmax → top-k with
 * renormalised gates (top-1: the raw probability, as in Switch); E two-layer experts stored as
 * rank-3 banks [E, fan_in, hidden] and [E, hidden, fan_out] so Muon orthogonalises each expert
 * separately.
 *
 * Every expert is evaluated on every token and the result is weighted by the gates (zero where
 * not routed): the same function as sparse dispatch, and at this size faster than gathering.
 * Tokens an expert did not receive contribute zero gradient to it.
 */
import { tf } from '../tf.js';
import type { Rng } from '../data/rng.js';
import { matMul, registerGradients } from '../ops.js';
import { FP32, linear, quantizeActivation, quantizeWeight, type PrecisionSpec } from '../precision/qat.js';
import { uniformFanIn, uniqueScope, zerosVariable } from './init.js';
import { activate, type Activation } from './activation.js';
import type { Model, ParamRole } from './model.js';

export interface MoeSpec {
  readonly kind: 'moe';
  readonly experts: number;
  readonly topK: 1 | 2;
  readonly expertHidden: number;
  readonly activation: Activation;
  /** Switch load-balancing coefficient α (Fedus et al. 2021: 1e-2). */
  readonly balanceCoef: number;
  /** ST-MoE router z-loss coefficient (Zoph et al. 2022: 1e-3). */
  readonly zLossCoef: number;
  /** DeepSeek-V3 auxiliary-loss-free balancing: a selection-only bias per expert. */
  readonly biasBalancing: boolean;
  /** Its update speed γ (DeepSeek-V3: 1e-3). */
  readonly biasUpdateRate: number;
}

export const MOE_DEFAULTS: Omit<MoeSpec, 'kind'> = {
  experts: 8,
  topK: 2,
  expertHidden: 32,
  activation: 'relu',
  balanceCoef: 1e-2,
  zLossCoef: 1e-3,
  biasBalancing: false,
  biasUpdateRate: 1e-3,
};

/**
 * Load-balance statistics of one step's expert load (fractions of routed slots, summing to 1):
 * MaxVio = (max load − mean) / mean (docs/references.md#moe), the coefficient of variation,
 * and the number of experts that received no token. Plain JS on the read-back load: a dozen fewer
 * tfjs ops per step than computing them as tensors.
 */
export function loadBalanceStats(load: readonly number[]): { maxVio: number; loadCv: number; deadExperts: number } {
  const mean = 1 / load.length;
  const variance = load.reduce((a, l) => a + (l - mean) ** 2, 0) / load.length;
  return {
    maxVio: (Math.max(...load) - mean) / mean,
    loadCv: Math.sqrt(variance) / mean,
    deadExperts: load.filter((l) => l === 0).length,
  };
}

/**
 * `precision`: the operand formats of the router and expert matmuls (quantisation-aware training,
 * src/precision/qat.ts). The expert banks are quantised as banks [E, fan_in, fan_out] (MXFP4 blocks
 * along fan_in, one FP8 scale per bank) before being laid side by side; the gate × b2 product is a
 * bias term and stays float32, as biases do.
 * `scope` prefixes the variable names (default: a process-unique `moe<n>`).
 */
export function createMoe(spec: MoeSpec, inputDim: number, outputDim: number, rng: Rng, precision: PrecisionSpec = FP32, scope = uniqueScope('moe')): Model {
  registerGradients();
  const { experts: E, topK: k, expertHidden: H } = spec;
  if (k > E) throw new Error(`moe: topK (${k}) must not exceed experts (${E})`);
  const router = uniformFanIn(rng, [inputDim, E], inputDim, `${scope}/router/kernel`);
  const w1 = uniformFanIn(rng, [E, inputDim, H], inputDim, `${scope}/experts/w1`);
  const b1 = uniformFanIn(rng, [E, H], inputDim, `${scope}/experts/b1`);
  const w2 = uniformFanIn(rng, [E, H, outputDim], H, `${scope}/experts/w2`);
  const b2 = uniformFanIn(rng, [E, outputDim], H, `${scope}/experts/b2`);
  const selectionBias = spec.biasBalancing ? zerosVariable([E], `${scope}/router/selection_bias`, false) : undefined;
  const roles: Record<string, ParamRole> = {
    [router.name]: 'router',
    [w1.name]: 'hidden',
    [b1.name]: 'bias',
    [w2.name]: 'hidden',
    [b2.name]: 'bias',
  };

  return {
    kind: 'moe',
    variables: [router, w1, b1, w2, b2],
    roles,
    forward(x) {
      const batch = x.shape[0];
      const logits = linear(x, router, precision); // [B, E]
      const probs = tf.softmax(logits);
      // DeepSeek-V3: the bias shifts which experts are chosen, never the gate values.
      const scores = selectionBias ? tf.add(probs, selectionBias) : probs;
      const { indices } = tf.topk(scores, k);
      const mask = tf.sum(tf.oneHot(indices, E), 1); // [B, E], 1 where routed
      const chosen = tf.mul(probs, mask);
      // Renormalised over the top-k (Mixtral). For top-1 that would make every gate exactly 1 and cut
      // the router off from the task loss, so top-1 gates by the raw probability (Switch Transformer).
      const gates = k === 1 ? chosen : tf.div(chosen, tf.sum(chosen, -1, true));

      // All experts on every token as two plain 2-D matMuls: wasm's batched (rank-3) matMul and
      // broadcastTo (Tile) are 10–15× slower than its 2-D path at these shapes (measured: 8×[128,16]·[16,32]
      // 670 µs batched vs 47 µs as [128,16]·[16,256]; broadcastTo to [8,128,16] 880 µs).
      // Layer 1: x·[W1₁ … W1_E] side by side. Layer 2: Σₑ gₑ·(hₑ·W2ₑ + b2ₑ) = (g ⊙ h)·[W2₁; …; W2_E] + g·b2,
      // the gated hidden blocks against the experts' output matrices stacked.
      const w1SideBySide = tf.reshape(tf.transpose(quantizeWeight(w1, precision, 1), [1, 0, 2]), [inputDim, E * H]);
      const h = activate(tf.add(matMul(quantizeActivation(x, precision), w1SideBySide), tf.reshape(b1, [E * H])), spec.activation); // [B, E·H]
      const gatedH = tf.reshape(tf.mul(tf.reshape(h, [batch, E, H]), tf.expandDims(gates, -1)), [batch, E * H]);
      const w2Stacked = tf.reshape(quantizeWeight(w2, precision, 1), [E * H, outputDim]);
      const output = tf.add(matMul(quantizeActivation(gatedH, precision), w2Stacked), matMul(gates, b2)) as tf.Tensor2D;

      // Switch load balancing: α·E·Σ fᵢ·Pᵢ, fᵢ = share of routed slots, Pᵢ = mean router probability.
      const load = tf.div(tf.sum(mask, 0), batch * k); // fractions, sum 1
      const meanProb = tf.mean(probs, 0);
      const balanceLoss = tf.mul(tf.sum(tf.mul(load, meanProb)), E);
      // ST-MoE z-loss: mean over tokens of (log Σ exp logits)².
      const zLoss = tf.mean(tf.square(tf.logSumExp(logits, -1)));
      const auxLoss = tf.add(tf.mul(balanceLoss, spec.balanceCoef), tf.mul(zLoss, spec.zLossCoef)) as tf.Scalar;

      // maxVio, loadCv and deadExperts are functions of the load alone: loadBalanceStats, in JS on the read-back.
      const stats = {
        expertLoad: load,
        routerMaxLogit: tf.max(tf.abs(logits)),
        zLoss,
        balanceLoss,
      };
      return { output, auxLoss, stats };
    },
    afterStep(stats) {
      if (!selectionBias) return;
      const load = stats['expertLoad'];
      if (!load) return;
      tf.tidy(() => {
        // bᵢ ← bᵢ + γ·sign(mean load − loadᵢ): under-loaded experts become more likely to be picked.
        selectionBias.assign(tf.add(selectionBias, tf.mul(tf.sign(tf.sub(1 / E, load)), spec.biasUpdateRate)));
      });
    },
    state() {
      const kept: Record<string, tf.Tensor> = {};
      if (selectionBias) kept['selectionBias'] = selectionBias;
      return kept;
    },
    restoreState(state) {
      const saved = state['selectionBias'];
      if (!selectionBias || !saved) throw new Error('moe: the saved state does not match the model (selectionBias)');
      selectionBias.assign(saved);
    },
    dispose() {
      for (const v of [router, w1, b1, w2, b2]) v.dispose();
      selectionBias?.dispose();
    },
  };
}
