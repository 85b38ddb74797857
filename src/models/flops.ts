/**
 * The FLOP model of a training step (REFERENCE §4): a dense layer of m×n with batch B costs about
 * 6·B·m·n (forward 2, backward 4); one Newton–Schulz iteration on an m×n matrix (m ≤ n) costs
 * 4m²n + 2m³. The MoE evaluates every expert on every token (dense dispatch), so an expert bank
 * [E, m, n] counts E matrices. Elementwise work is not counted: the model says what the matmuls
 * alone would take.
 */
import type { MlpSpec } from './mlp.js';
import type { MoeSpec } from './moe.js';

export interface MatrixShape {
  readonly name: string;
  /** Matrices in the parameter (E for an expert bank). */
  readonly count: number;
  readonly fanIn: number;
  readonly fanOut: number;
}

/** The matrices of a model, in the order the models create them. */
export function modelMatrices(model: MlpSpec | MoeSpec, inputDim: number, outputDim: number): MatrixShape[] {
  if (model.kind === 'mlp') {
    const widths = [inputDim, ...model.hidden, outputDim];
    return widths.slice(0, -1).map((w, i) => ({
      name: i + 2 === widths.length ? 'head' : `hidden${i}`,
      count: 1,
      fanIn: w,
      fanOut: widths[i + 1]!,
    }));
  }
  return [
    { name: 'router', count: 1, fanIn: inputDim, fanOut: model.experts },
    { name: 'w1', count: model.experts, fanIn: inputDim, fanOut: model.expertHidden },
    { name: 'w2', count: model.experts, fanIn: model.expertHidden, fanOut: outputDim },
  ];
}

export function denseStepFlops(matrices: readonly MatrixShape[], batch: number): number {
  return matrices.reduce((a, m) => a + 6 * batch * m.count * m.fanIn * m.fanOut, 0);
}

export function newtonSchulzFlops(rows: number, cols: number, steps: number): number {
  const m = Math.min(rows, cols);
  const n = Math.max(rows, cols);
  return steps * (4 * m * m * n + 2 * m * m * m);
}

/** Step FLOPs: the dense model, plus Newton–Schulz for each matrix the optimizer orthogonalises. */
export function stepFlops(
  matrices: readonly MatrixShape[],
  batch: number,
  orthogonalised: readonly string[],
  nsSteps: number,
): number {
  const ns = matrices
    .filter((m) => orthogonalised.includes(m.name))
    .reduce((a, m) => a + m.count * newtonSchulzFlops(m.fanIn, m.fanOut, nsSteps), 0);
  return denseStepFlops(matrices, batch) + ns;
}
