/**
 * The FLOP model of a training step (docs/references.md#tfjs-in-node): a dense layer of m×n with batch B costs about
 * 6·B·m·n (forward 2, backward 4); one Newton–Schulz iteration on an m×n matrix (m ≤ n) costs
 * 4m²n + 2m³. The MoE evaluates every expert on every token (dense dispatch), so an expert bank
 * [E, m, n] counts E matrices. Elementwise work is not counted: the model says what the matmuls
 * alone would take.
 *
 * The MoE's output adds the gates' product with the expert output biases, g·b2 ([rows, E]·[E, out]),
 * a matmul like any other: 6·rows·E·out per step (the gates depend on the router, so both operands
 * take gradients).
 *
 * The transformer's matrices act on every one of its B·T tokens, so they count with batch B·T
 * (every one of them, the first block's included, takes an input gradient: its input depends on
 * the embeddings). Its attention products (q·kᵀ and p·v, per layer) run densely over the full T×T
 * score matrix — the causal mask is added to the scores, it does not skip the masked half — and add
 * 3 · 2 · 2·B·T²·d = 12·B·T²·d per layer (forward 2 products of 2·B·H·T²·(d/H) each, backward twice
 * that). Its token embedding is the product one-hot(x)·E [B·T, V]·[V, d] (transformer.ts): 2·B·T·V·d
 * forward and 2·B·T·V·d for E's gradient; the one-hot ids take none (tfjs prunes gradients of
 * inputs that depend on no variable), so 4·B·T·V·d. The position table is an addition.
 *
 * For the transformer these terms are every matmul a training step executes (checked against the
 * kernels a step runs, test/models/flops.test.ts). For the MLP and the standalone MoE, whose first
 * layer takes the data as input, tfjs skips that layer's input gradient, so the 6·B·m·n convention
 * overcounts their first matrix by a third (docs/performance.md).
 */
import type { MlpSpec } from './mlp.js';
import type { MoeSpec } from './moe.js';
import type { TransformerSpec } from './transformer.js';

export type AnyModelSpec = MlpSpec | MoeSpec | TransformerSpec;

export interface MatrixShape {
  readonly name: string;
  /** Matrices in the parameter (E for an expert bank). */
  readonly count: number;
  readonly fanIn: number;
  readonly fanOut: number;
}

function moeMatrices(model: Omit<MoeSpec, 'kind'>, inputDim: number, outputDim: number, prefix = ''): MatrixShape[] {
  return [
    { name: `${prefix}router`, count: 1, fanIn: inputDim, fanOut: model.experts },
    { name: `${prefix}w1`, count: model.experts, fanIn: inputDim, fanOut: model.expertHidden },
    { name: `${prefix}w2`, count: model.experts, fanIn: model.expertHidden, fanOut: outputDim },
  ];
}

/** The matrices of a model, in the order the models create them (for the transformer, inputDim = outputDim = vocabulary size). */
export function modelMatrices(model: AnyModelSpec, inputDim: number, outputDim: number): MatrixShape[] {
  if (model.kind === 'transformer') {
    const d = model.dModel;
    const out: MatrixShape[] = [];
    for (let l = 0; l < model.layers; l++) {
      for (const w of ['wq', 'wk', 'wv', 'wo']) out.push({ name: `layer${l}/${w}`, count: 1, fanIn: d, fanOut: d });
      if (model.ffn === 'dense') {
        out.push({ name: `layer${l}/w1`, count: 1, fanIn: d, fanOut: 4 * d }, { name: `layer${l}/w2`, count: 1, fanIn: 4 * d, fanOut: d });
      } else {
        out.push(...moeMatrices(model.moe, d, d, `layer${l}/`));
      }
    }
    out.push({ name: 'head', count: 1, fanIn: d, fanOut: outputDim });
    return out;
  }
  if (model.kind === 'mlp') {
    const widths = [inputDim, ...model.hidden, outputDim];
    return widths.slice(0, -1).map((w, i) => ({
      name: i + 2 === widths.length ? 'head' : `hidden${i}`,
      count: 1,
      fanIn: w,
      fanOut: widths[i + 1]!,
    }));
  }
  return moeMatrices(model, inputDim, outputDim);
}

/** Matrices Muon orthogonalises under role routing (Keller's rule): all but the output head and the router. */
export function muonMatrixNames(matrices: readonly MatrixShape[], routerOnMuon = false): string[] {
  return matrices.filter((m) => !/(^|\/)head$/.test(m.name) && (routerOnMuon || !/(^|\/)router$/.test(m.name))).map((m) => m.name);
}

/** Rows each matrix multiplies per step: the batch, or B·T tokens for the transformer. */
function rowsPerStep(model: AnyModelSpec, batch: number): number {
  return model.kind === 'transformer' ? batch * model.context : batch;
}

/** FLOPs of the attention products per training step (0 for models without attention). */
export function attentionStepFlops(model: AnyModelSpec, batch: number): number {
  if (model.kind !== 'transformer') return 0;
  return model.layers * 12 * batch * model.context * model.context * model.dModel;
}

/** FLOPs of the transformer's embedding lookup one-hot(x)·E per training step (0 for other models): forward and E's gradient. */
export function embeddingStepFlops(model: AnyModelSpec, batch: number, vocabSize: number): number {
  if (model.kind !== 'transformer') return 0;
  return 4 * batch * model.context * vocabSize * model.dModel;
}

/** FLOPs of the MoE layers' gate × output-bias products g·b2 per training step (0 without an MoE). */
export function gateBiasStepFlops(model: AnyModelSpec, outputDim: number, batch: number): number {
  if (model.kind === 'moe') return 6 * batch * model.experts * outputDim;
  if (model.kind === 'transformer' && model.ffn === 'moe') return model.layers * 6 * batch * model.context * model.moe.experts * model.dModel;
  return 0;
}

/**
 * A whole training step: the matrices (at rowsPerStep), the attention products, the embedding
 * lookup, the MoE's gate × bias products, Newton–Schulz.
 */
export function modelStepFlops(
  model: AnyModelSpec,
  inputDim: number,
  outputDim: number,
  batch: number,
  orthogonalised: readonly string[],
  nsSteps: number,
): number {
  const matrices = modelMatrices(model, inputDim, outputDim);
  return (
    stepFlops(matrices, rowsPerStep(model, batch), orthogonalised, nsSteps) +
    attentionStepFlops(model, batch) +
    embeddingStepFlops(model, batch, inputDim) +
    gateBiasStepFlops(model, outputDim, batch)
  );
}

function denseStepFlops(matrices: readonly MatrixShape[], batch: number): number {
  return matrices.reduce((a, m) => a + 6 * batch * m.count * m.fanIn * m.fanOut, 0);
}

export function newtonSchulzFlops(rows: number, cols: number, steps: number): number {
  const m = Math.min(rows, cols);
  const n = Math.max(rows, cols);
  return steps * (4 * m * m * n + 2 * m * m * m);
}

/** Step FLOPs: the dense model, plus Newton–Schulz for each matrix the optimizer orthogonalises. */
function stepFlops(
  matrices: readonly MatrixShape[],
  batch: number,
  orthogonalised: readonly string[],
  nsSteps: number,
): number {
  return denseStepFlops(matrices, batch) + orthogonalisationFlops(matrices, orthogonalised, nsSteps);
}

/** Newton–Schulz over every orthogonalised matrix (each matrix of a bank on its own). */
export function orthogonalisationFlops(matrices: readonly MatrixShape[], orthogonalised: readonly string[], nsSteps: number): number {
  return matrices
    .filter((m) => orthogonalised.includes(m.name))
    .reduce((a, m) => a + m.count * newtonSchulzFlops(m.fanIn, m.fanOut, nsSteps), 0);
}

export interface ParamCounts {
  /** Every trainable parameter (embeddings, every expert). */
  readonly total: number;
  /** The token and position embeddings (transformer; 0 otherwise). */
  readonly embedding: number;
  /**
   * Parameters one token passes through, embeddings aside: attention, gains, the output head, and
   * in an MoE layer the router and the top-k experts' weights and biases (not the other experts).
   * The denominator of "tokens per parameter" in compute-optimal scaling.
   */
  readonly activeNonEmbedding: number;
}

/**
 * The trainable parameters of a model, counted from the shapes the models create (transformer.ts,
 * moe.ts, mlp.ts; the MoE's selection bias is not trained and not counted). A test checks the
 * total against a built model's variables.
 */
export function modelParamCounts(model: AnyModelSpec, inputDim: number, outputDim: number): ParamCounts {
  const moeParts = (m: Omit<MoeSpec, 'kind'>, inDim: number, outDim: number) => {
    const router = inDim * m.experts;
    const expert = inDim * m.expertHidden + m.expertHidden + m.expertHidden * outDim + outDim;
    return { total: router + m.experts * expert, active: router + Math.min(m.topK, m.experts) * expert };
  };
  if (model.kind === 'transformer') {
    const d = model.dModel;
    const embedding = inputDim * d + model.context * d;
    let perLayerTotal = 2 * d + 4 * d * d + (model.qkNorm ? 2 * (d / model.heads) : 0);
    let perLayerActive = perLayerTotal;
    if (model.ffn === 'dense') {
      perLayerTotal += 8 * d * d;
      perLayerActive += 8 * d * d;
    } else {
      const moe = moeParts(model.moe, d, d);
      perLayerTotal += moe.total;
      perLayerActive += moe.active;
    }
    const tail = d + d * outputDim; // final norm gain, output head
    return {
      total: embedding + model.layers * perLayerTotal + tail,
      embedding,
      activeNonEmbedding: model.layers * perLayerActive + tail,
    };
  }
  if (model.kind === 'mlp') {
    const widths = [inputDim, ...model.hidden, outputDim];
    const total = widths.slice(0, -1).reduce((a, w, i) => a + w * widths[i + 1]! + widths[i + 1]!, 0);
    return { total, embedding: 0, activeNonEmbedding: total };
  }
  const moe = moeParts(model, inputDim, outputDim);
  return { total: moe.total, embedding: 0, activeNonEmbedding: moe.active };
}
