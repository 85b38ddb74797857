/**
 * A rough cost of a run, to schedule long runs first (longest-processing-time order): with N
 * workers a long run started last leaves the others idle while it finishes. Only the order
 * depends on it, never a result.
 */
import { DEFAULT_EVAL_WINDOWS, type DataSpec, type RunConfig } from '../train/config.js';
import { modelMatrices, modelStepFlops, muonMatrixNames, orthogonalisationFlops } from '../models/flops.js';
import { MNIST_CLASSES, MNIST_INPUT_DIM } from '../data/mnist.js';
import { SYNTHETIC_INPUT_DIM, SYNTHETIC_OUTPUT_DIM } from '../data/dataset.js';
import { BROWN_VOCAB_SIZE } from '../data/brown.js';

/** Per-step cost of the many small ops, seconds (measured here on wasm: ≈ 3.3 ms for a tiny MoE step on AdamW, 4.7 ms on Muon). */
const OVERHEAD_S = 4e-3;
/** Matmul rate assumed for the estimate, FLOP/s (wasm on this machine: ≈ 25 GFLOP/s). */
const RATE = 25e9;

/** The data dimensions without loading the data. */
export function dataDims(data: DataSpec): { inputDim: number; outputDim: number } {
  if (data.kind === 'mnist') return { inputDim: MNIST_INPUT_DIM, outputDim: MNIST_CLASSES };
  if (data.kind === 'brown') return { inputDim: BROWN_VOCAB_SIZE, outputDim: BROWN_VOCAB_SIZE };
  return { inputDim: data.inputDim ?? SYNTHETIC_INPUT_DIM, outputDim: data.outputDim ?? SYNTHETIC_OUTPUT_DIM };
}

/**
 * The transformer runs far below the plain matmul rate on wasm: its attention products are
 * batched matMuls over B·H small matrices, and a step launches ~600–1000 kernels. Effective rates
 * measured here (lm-brown / lm-moe at context 64 and 32, AdamW; Muon's extra time per Newton–Schulz
 * FLOP), FLOP/s: the step's matmuls and attention ≈ 5e9; Newton–Schulz ≈ 4e9 (expert banks
 * included: they are orthogonalised matrix by matrix on wasm, see newton_schulz.ts).
 */
const TRANSFORMER_RATE = 5e9;
const NS_RATE_TRANSFORMER = 4e9;
/** Simulated low precision (quantise–dequantise on every matmul operand) costs ≈ 1.2–1.4× a float32 step (README, bench). */
const LOW_PRECISION_FACTOR = 1.3;

export function estimateRunSeconds(config: RunConfig): number {
  const { inputDim, outputDim } = dataDims(config.data);
  const matrices = modelMatrices(config.model, inputDim, outputDim);
  const muonLike = config.optimizer.options['nsSteps'] !== undefined || /muon/.test(config.optimizer.name);
  const orthogonalised = muonLike ? muonMatrixNames(matrices, config.optimizer.routerOnMuon === true) : [];
  const nsSteps = (config.optimizer.options['nsSteps'] as number | undefined) ?? 5;
  const lowPrecision = config.precision.weights !== 'fp32' || config.precision.activations !== 'fp32' ? LOW_PRECISION_FACTOR : 1;
  if (config.model.kind !== 'transformer') {
    const flops = modelStepFlops(config.model, inputDim, outputDim, config.batchSize, orthogonalised, nsSteps);
    return config.steps * (OVERHEAD_S + flops / RATE) * lowPrecision;
  }
  const model = modelStepFlops(config.model, inputDim, outputDim, config.batchSize, [], nsSteps);
  const ns = orthogonalisationFlops(matrices, orthogonalised, nsSteps);
  const stepSeconds = OVERHEAD_S + (model / TRANSFORMER_RATE) * lowPrecision + ns / NS_RATE_TRANSFORMER;
  // Evaluations: one before the first step and one every evalEvery steps, each a forward pass
  // (a third of a step's matmul work) over the held-out windows.
  const evals = 1 + Math.floor(config.steps / config.evalEvery);
  const evalSeconds = (((config.evalSize ?? DEFAULT_EVAL_WINDOWS) / config.batchSize) * (model / 3)) / TRANSFORMER_RATE;
  return config.steps * stepSeconds + evals * evalSeconds * lowPrecision;
}

/**
 * Slow-down of each run when every core is busy: runs took ≈ 5–8% longer each with 2 workers on
 * this 2-core machine (README, Performance).
 */
const CONTENTION = 1.07;

/**
 * Wall time of runs of the given costs on `workers` workers dispatched longest first, each to the
 * worker that frees up first — the pool's order (pool.ts) — i.e. the makespan of that schedule.
 */
export function estimateWallSeconds(costs: readonly number[], workers: number): number {
  const w = Math.max(1, Math.floor(workers));
  const free = new Array<number>(Math.min(w, Math.max(1, costs.length))).fill(0);
  for (const c of [...costs].sort((a, b) => b - a)) {
    let at = 0;
    for (let i = 1; i < free.length; i++) if (free[i]! < free[at]!) at = i;
    free[at]! += c;
  }
  return Math.max(...free) * (w > 1 && costs.length > 1 ? CONTENTION : 1);
}
