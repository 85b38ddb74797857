/**
 * A tiny decoder-only transformer language model with exactly this forward pass so that
 * another framework given the same weights and batches computes the same losses:
 *
 *   h = E[x] + P[0..T−1]                                   E [V, d], P [T, d]
 *   per block (pre-norm):
 *     a = RMSNorm₁(h);  q = a·Wq, k = a·Wk, v = a·Wv       W* [d, d], no bias
 *     heads: head j = columns j·d/H … (j+1)·d/H − 1 of q, k, v
 *     qkNorm: q, k ← RMSNorm over the head dimension (gains [d/H], shared over heads)
 *     s = q·kᵀ / sqrt(d/H), causal (i attends to j ≤ i); p = softmax(s); o = p·v
 *     h ← h + concat_heads(o)·Wo                           Wo [d, d]
 *     h ← h + FFN(RMSNorm₂(h))      dense: GELU_tanh(x·W1)·W2 (W1 [d, 4d], W2 [4d, d], no biases)
 *                                   or the MoE layer of moe.ts on every token
 *   logits = RMSNorm_f(h)·Wout                              Wout [d, V], not tied to E
 *   RMSNorm(x) = x / sqrt(mean(x²) + 1e-6) · g, g initialised to 1.
 *
 * The loss (mean cross-entropy over the B·T positions) is the training loop's; the model adds the
 * MoE auxiliary terms of every block and, when `outputZLossCoef` > 0, c·mean((logsumexp logits)²)
 * (PaLM; Wortsman et al. 2023, docs/references.md#transformer-instabilities) as its auxiliary loss.
 *
 * It also returns the instability signals of docs/references.md#transformer-instabilities for the step's single read-back: the
 * maximum pre-softmax logit s per layer and head (over batch and unmasked positions), the mean
 * attention-row entropy per layer and head, max |logit| and mean logsumexp of the output logits.
 *
 * Layout: weights are [fan_in, fan_out] (x·W), tfjs's convention; torch's Linear stores Wᵀ.
 */
import { tf } from '../tf.js';
import type { Rng } from '../data/rng.js';
import { matMul, oneHotFloat, registerGradients } from '../ops.js';
import { uniformFanIn, uniqueScope } from './init.js';
import { activate } from './activation.js';
import { createMoe, loadBalanceStats, MOE_DEFAULTS, type MoeSpec } from './moe.js';
import type { Model, ParamRole } from './model.js';
// Every activation × weight product (attention projections, dense FFN, output head) goes through
// `linear`, which quantises both operands under simulated low precision (docs/references.md#number-formats).
import { FP32, linear, type PrecisionSpec } from '../precision/qat.js';

export interface TransformerSpec {
  readonly kind: 'transformer';
  /** Model width d. */
  readonly dModel: number;
  /** Attention heads H; must divide d. */
  readonly heads: number;
  /** Blocks L. */
  readonly layers: number;
  /** Context length T (the learned position table has T rows). */
  readonly context: number;
  /** Feed-forward: dense GELU MLP of width 4d, or the MoE layer on every token. */
  readonly ffn: 'dense' | 'moe';
  /** The MoE layer's settings when ffn = 'moe' (the MoE task's defaults, except hidden 64 and GELU). */
  readonly moe: Omit<MoeSpec, 'kind'>;
  /** RMSNorm over each head's q and k (qk-layernorm, Wortsman et al. 2023; Dehghani et al. 2023). */
  readonly qkNorm: boolean;
  /** Output z-loss coefficient on mean((logsumexp logits)²); PaLM and Wortsman et al. use 1e-4. 0 = off. */
  readonly outputZLossCoef: number;
}

/** Defaults sized for a 2-core laptop: d 64, H 4, L 2, T 64; MoE 8 experts, hidden 64, top-2. */
export const TRANSFORMER_DEFAULTS: Omit<TransformerSpec, 'kind'> = {
  dModel: 64,
  heads: 4,
  layers: 2,
  context: 64,
  ffn: 'dense',
  moe: { ...MOE_DEFAULTS, expertHidden: 64, activation: 'gelu' },
  qkNorm: false,
  outputZLossCoef: 0,
};

/** RMSNorm's ε. */
const RMS_NORM_EPS = 1e-6;
/** Added to masked scores: exp underflows to exactly 0 in float32, and no row is fully masked. */
const MASKED = -1e9;
/** Inside log for the attention entropy, so that p·log p is 0 (not NaN) where p = 0. */
const ENTROPY_FLOOR = 1e-30;

/** x / sqrt(mean(x²) over the last axis + ε) · g. */
function rmsNorm(x: tf.Tensor, gain: tf.Tensor): tf.Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, RMS_NORM_EPS))), gain);
}

interface Block {
  norm1: tf.Variable;
  wq: tf.Variable;
  wk: tf.Variable;
  wv: tf.Variable;
  wo: tf.Variable;
  qGain?: tf.Variable;
  kGain?: tf.Variable;
  norm2: tf.Variable;
  w1?: tf.Variable;
  w2?: tf.Variable;
  moe?: Model;
}

function normalVariable(rng: Rng, shape: number[], std: number, name: string): tf.Variable {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tidy(() => tf.variable(tf.tensor(rng.normals(n, std), shape), true, name));
}

function onesVariable(shape: number[], name: string): tf.Variable {
  return tf.tidy(() => tf.variable(tf.ones(shape), true, name));
}

/** A transformer model; `forward` takes int32 token ids [B, T'] (T' ≤ context) and returns logits [B·T', V]. */
export interface TransformerModel extends Model {
  readonly spec: TransformerSpec;
  /**
   * QK-clip (Kimi K2, docs/references.md#transformer-instabilities): for every layer l and head j whose forward maximum
   * `headMax[l·H + j]` exceeds τ, with γ = τ / max: Wq's head-j columns ← ·γ^α, Wk's ← ·γ^(1−α),
   * which scales that head's logits by exactly γ. Heads at or below τ are untouched. Returns the
   * number of heads clipped.
   */
  clipAttentionLogits(headMax: ArrayLike<number>, threshold: number, alpha: number): number;
}

export function createTransformer(spec: TransformerSpec, vocabSize: number, rng: Rng, precision: PrecisionSpec = FP32): TransformerModel {
  registerGradients();
  const { dModel: d, heads: H, layers: L, context: T } = spec;
  if (d % H !== 0) throw new Error(`transformer: heads (${H}) must divide dModel (${d})`);
  const dh = d / H;
  const scope = uniqueScope('transformer');
  const roles: Record<string, ParamRole> = {};
  const variables: tf.Variable[] = [];
  const add = (v: tf.Variable, role: ParamRole): tf.Variable => {
    roles[v.name] = role;
    variables.push(v);
    return v;
  };

  // Init: E ~ N(0, 1) (torch.nn.Embedding), P ~ N(0, 0.02²) (GPT-2's small position init), every
  // matrix U(±1/√fan_in) (torch.nn.Linear), gains 1. Exported with `sandbox export` for replays.
  const embedding = add(normalVariable(rng, [vocabSize, d], 1, `${scope}/E`), 'embedding');
  const positions = add(normalVariable(rng, [T, d], 0.02, `${scope}/P`), 'embedding');
  const blocks: Block[] = [];
  const moeLayers: Model[] = [];
  for (let l = 0; l < L; l++) {
    const p = `${scope}/layer${l}`;
    // Creation order is the init order (one generator) and the export order.
    const norm1 = add(onesVariable([d], `${p}/norm1/gain`), 'gain');
    const wq = add(uniformFanIn(rng, [d, d], d, `${p}/attn/wq`), 'hidden');
    const wk = add(uniformFanIn(rng, [d, d], d, `${p}/attn/wk`), 'hidden');
    const wv = add(uniformFanIn(rng, [d, d], d, `${p}/attn/wv`), 'hidden');
    const wo = add(uniformFanIn(rng, [d, d], d, `${p}/attn/wo`), 'hidden');
    const block: Block = { norm1, wq, wk, wv, wo, norm2: norm1 };
    if (spec.qkNorm) {
      block.qGain = add(onesVariable([dh], `${p}/attn/q_norm/gain`), 'gain');
      block.kGain = add(onesVariable([dh], `${p}/attn/k_norm/gain`), 'gain');
    }
    block.norm2 = add(onesVariable([d], `${p}/norm2/gain`), 'gain');
    if (spec.ffn === 'dense') {
      block.w1 = add(uniformFanIn(rng, [d, 4 * d], d, `${p}/ffn/w1`), 'hidden');
      block.w2 = add(uniformFanIn(rng, [4 * d, d], 4 * d, `${p}/ffn/w2`), 'hidden');
    } else {
      const moe = createMoe({ kind: 'moe', ...spec.moe }, d, d, rng, precision, `${p}/moe`);
      for (const v of moe.variables) {
        roles[v.name] = moe.roles[v.name]!;
        variables.push(v as tf.Variable);
      }
      moeLayers.push(moe);
      block.moe = moe;
    }
    blocks.push(block);
  }
  const finalNorm = add(onesVariable([d], `${scope}/final_norm/gain`), 'gain');
  const wout = add(uniformFanIn(rng, [d, vocabSize], d, `${scope}/wout`), 'head');

  // Additive causal masks, one per sequence length seen (kept until dispose).
  const masks = new Map<number, tf.Tensor2D>();
  const causalMask = (t: number): tf.Tensor2D => {
    let m = masks.get(t);
    if (!m) {
      const values = new Float32Array(t * t);
      for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) values[i * t + j] = MASKED;
      m = tf.keep(tf.tensor2d(values, [t, t]));
      masks.set(t, m);
    }
    return m;
  };

  /** [B·t, d] → [B·H, t, dh] (or its transpose [B·H, dh, t] for keys), with the optional head norm. */
  const splitHeads = (x: tf.Tensor, batch: number, t: number, gain: tf.Variable | undefined, transposed: boolean): tf.Tensor => {
    let y = tf.reshape(x, [batch, t, H, dh]);
    if (gain) y = rmsNorm(y, gain);
    y = tf.transpose(y, transposed ? [0, 2, 3, 1] : [0, 2, 1, 3]);
    return tf.reshape(y, transposed ? [batch * H, dh, t] : [batch * H, t, dh]);
  };

  const model: TransformerModel = {
    kind: 'transformer',
    spec,
    variables,
    roles,
    forward(x) {
      const [batch, t] = x.shape;
      if (t > T) throw new Error(`transformer: sequence length ${t} exceeds the context ${T}`);
      const ids = x.dtype === 'int32' ? x : tf.cast(x, 'int32');
      const pos = t === T ? positions : tf.slice(positions, [0, 0], [t, d]);
      // [B·t, d]: token embeddings plus positions (broadcast over the batch). The lookup E[x] is
      // written as oneHot(x)·E: the same numbers, and wasm has no kernel for gather's gradient
      // (UnsortedSegmentSum). It is a lookup, not an activation × weight product, so not `linear`.
      const lookup = matMul(oneHotFloat(tf.reshape(ids, [-1]), vocabSize), embedding);
      let h: tf.Tensor = tf.reshape(tf.add(tf.reshape(lookup, [batch, t, d]), pos), [batch * t, d]);
      const mask = causalMask(t);
      const scale = 1 / Math.sqrt(dh);
      const headMax: tf.Tensor[] = [];
      const headEntropy: tf.Tensor[] = [];
      const aux: tf.Tensor[] = [];
      const moeStats: Record<string, tf.Tensor>[] = [];
      for (const b of blocks) {
        const a = rmsNorm(h, b.norm1);
        const q = splitHeads(linear(a, b.wq, precision), batch, t, b.qGain, false);
        const kT = splitHeads(linear(a, b.wk, precision), batch, t, b.kGain, true);
        const v = splitHeads(linear(a, b.wv, precision), batch, t, undefined, false);
        const s = tf.add(tf.mul(matMul(q, kT), scale), mask); // [B·H, t, t], masked entries ≈ −1e9
        const p = tf.softmax(s);
        const o = matMul(p, v); // [B·H, t, dh]
        const merged = tf.reshape(tf.transpose(tf.reshape(o, [batch, H, t, dh]), [0, 2, 1, 3]), [batch * t, d]);
        h = tf.add(h, linear(merged, b.wo, precision));
        // Signals: max unmasked logit per head (masked entries are −1e9, never the max), and the
        // mean over rows of each head's attention entropy −Σ p·log p.
        headMax.push(tf.max(tf.reshape(s, [batch, H, t * t]), [0, 2]));
        const rowEntropy = tf.neg(tf.sum(tf.mul(p, tf.log(tf.add(p, ENTROPY_FLOOR))), -1)); // [B·H, t]
        headEntropy.push(tf.mean(tf.reshape(rowEntropy, [batch, H, t]), [0, 2]));

        const a2 = rmsNorm(h, b.norm2);
        if (b.moe) {
          const out = b.moe.forward(a2 as tf.Tensor2D);
          h = tf.add(h, out.output);
          if (out.auxLoss) aux.push(out.auxLoss);
          if (out.stats) moeStats.push(out.stats as Record<string, tf.Tensor>);
        } else {
          h = tf.add(h, linear(activate(linear(a2, b.w1!, precision), 'gelu'), b.w2!, precision));
        }
      }
      const logits = linear(rmsNorm(h, finalNorm), wout, precision) as tf.Tensor2D; // [B·t, V]
      const logZ = tf.logSumExp(logits, -1);
      if (spec.outputZLossCoef > 0) aux.push(tf.mul(tf.mean(tf.square(logZ)), spec.outputZLossCoef));
      const stats: Record<string, tf.Tensor> = {
        attnLogitMax: tf.stack(headMax), // [L, H]
        attnEntropy: tf.stack(headEntropy), // [L, H]
        outputLogitMax: tf.max(tf.abs(logits)),
        outputLogZ: tf.mean(logZ),
      };
      if (moeStats.length > 0) {
        stats['expertLoad'] = tf.stack(moeStats.map((m) => m['expertLoad']!)); // [L, E]
        stats['routerMaxLogit'] = tf.max(tf.stack(moeStats.map((m) => m['routerMaxLogit']!)));
        stats['zLoss'] = tf.mean(tf.stack(moeStats.map((m) => m['zLoss']!)));
        stats['balanceLoss'] = tf.mean(tf.stack(moeStats.map((m) => m['balanceLoss']!)));
      }
      return {
        output: logits,
        ...(aux.length > 0 ? { auxLoss: (aux.length === 1 ? aux[0]! : tf.addN(aux)) as tf.Scalar } : {}),
        stats,
      };
    },
    describeStats(values) {
      const lh = (name: string): number[][] => {
        const flat = values[name]!;
        return Array.from({ length: L }, (_, l) => Array.from(flat.subarray(l * H, (l + 1) * H)));
      };
      const maxes = lh('attnLogitMax');
      const entropies = lh('attnEntropy');
      const out: Record<string, unknown> = {
        maxAttnLogit: Math.max(...maxes.flat()),
        maxAttnLogitPerLayer: maxes.map((r) => Math.max(...r)),
        maxAttnLogitPerHead: maxes,
        minAttnEntropy: Math.min(...entropies.flat()),
        minAttnEntropyPerLayer: entropies.map((r) => Math.min(...r)),
        outputLogitMax: values['outputLogitMax']![0],
        outputLogZ: values['outputLogZ']![0],
      };
      const load = values['expertLoad'];
      if (load) {
        const E = load.length / L;
        const perLayer = Array.from({ length: L }, (_, l) => Array.from(load.subarray(l * E, (l + 1) * E)));
        const balance = perLayer.map(loadBalanceStats);
        Object.assign(out, {
          expertLoad: perLayer,
          // Aggregated over blocks as the worst block (dead experts: summed), per block in *PerLayer.
          maxVio: Math.max(...balance.map((b) => b.maxVio)),
          loadCv: Math.max(...balance.map((b) => b.loadCv)),
          deadExperts: balance.reduce((a, b) => a + b.deadExperts, 0),
          maxVioPerLayer: balance.map((b) => b.maxVio),
          routerMaxLogit: values['routerMaxLogit']![0],
          zLoss: values['zLoss']![0],
          balanceLoss: values['balanceLoss']![0],
        });
      }
      return out;
    },
    afterStep(stats) {
      const load = stats['expertLoad'];
      if (!load) return;
      blocks.forEach((b, l) => {
        if (!b.moe?.afterStep) return;
        const E = load.shape[1]!;
        tf.tidy(() => b.moe!.afterStep!({ expertLoad: tf.reshape(tf.slice(load, [l, 0], [1, E]), [E]) }));
      });
    },
    // Checkpoints: each MoE block's non-trainable state (bias balancing), keyed by block.
    state() {
      const kept: Record<string, tf.Tensor> = {};
      blocks.forEach((b, l) => {
        for (const [k, t] of Object.entries(b.moe?.state?.() ?? {})) kept[`block${l}/${k}`] = t;
      });
      return kept;
    },
    restoreState(state) {
      blocks.forEach((b, l) => {
        if (!b.moe?.restoreState) return;
        const prefix = `block${l}/`;
        const own = Object.fromEntries(
          Object.entries(state).filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]),
        );
        if (Object.keys(own).length > 0 || Object.keys(b.moe.state?.() ?? {}).length > 0) b.moe.restoreState(own);
      });
    },
    clipAttentionLogits(headMax, threshold, alpha) {
      let clipped = 0;
      blocks.forEach((b, l) => {
        const sq = new Float32Array(d).fill(1);
        const sk = new Float32Array(d).fill(1);
        let any = false;
        for (let j = 0; j < H; j++) {
          const m = headMax[l * H + j]!;
          if (!(m > threshold)) continue;
          const gamma = threshold / m;
          sq.fill(Math.pow(gamma, alpha), j * dh, (j + 1) * dh);
          sk.fill(Math.pow(gamma, 1 - alpha), j * dh, (j + 1) * dh);
          clipped += 1;
          any = true;
        }
        if (!any) return;
        tf.tidy(() => {
          // W is [d_in, d_out]: a head's columns are scaled by broadcasting over the rows.
          b.wq.assign(tf.mul(b.wq, tf.tensor1d(sq)));
          b.wk.assign(tf.mul(b.wk, tf.tensor1d(sk)));
        });
      });
      return clipped;
    },
    dispose() {
      // The MoE layers dispose their own variables (and selection biases).
      const moeOwned = new Set(moeLayers.flatMap((m) => m.variables.map((v) => v.name)));
      for (const v of variables) if (!moeOwned.has(v.name)) v.dispose();
      for (const m of moeLayers) m.dispose();
      for (const m of masks.values()) m.dispose();
      masks.clear();
    },
  };
  return model;
}
