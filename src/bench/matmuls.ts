/**
 * The matmuls one training step executes, read from `tf.profile` of the training loop's own step
 * (forward, backward, optimizer update): their shapes, how often each runs, their FLOPs. The
 * benchmark times each shape alone to get the matmul rate at a model's own shapes, and the tests
 * check the FLOP model (src/models/flops.ts) against the FLOPs counted here.
 */
import { tf } from '../tf.js';
import { Rng } from '../data/rng.js';
import { matMul } from '../ops.js';
import type { RunConfig } from '../train/config.js';
import { buildModel, buildOptimizer } from '../train/build.js';
import { buildTask } from '../train/tasks.js';
import { trainStep } from '../train/loop.js';

/** One matmul as m×k·k×n, `batch` times (rank 3: a batched product; rank 2: batch 1). */
export interface MatmulShape {
  readonly rank: 2 | 3;
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
}

export interface MatmulCount {
  readonly shape: MatmulShape;
  /** Times the step runs it. */
  readonly count: number;
}

/** Kernels that multiply matrices (tf.matMul, src/ops.ts's direct call, and the fused form). */
const MATMUL_KERNELS = new Set(['BatchMatMul', '_FusedMatMul']);

export function matmulFlops(s: MatmulShape): number {
  return 2 * s.batch * s.m * s.k * s.n;
}

/**
 * The m×k·k×n of a matmul from its operand and output shapes, whatever its transpose flags (the
 * profile does not record them): m, n from the output, k from a's size.
 */
export function matmulShapeOf(a: readonly number[], out: readonly number[]): MatmulShape {
  const size = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
  const m = out[out.length - 2]!;
  const n = out[out.length - 1]!;
  const batch = size(out.slice(0, -2));
  return { rank: out.length > 2 ? 3 : 2, batch, m, k: size(a) / (batch * m), n };
}

const key = (s: MatmulShape) => `${s.rank}:${s.batch}x${s.m}x${s.k}x${s.n}`;

/** Every matmul of one training step of `config` (its first step), by shape. */
export async function stepMatmuls(config: RunConfig): Promise<MatmulCount[]> {
  const rng = new Rng(config.seed);
  const task = buildTask(config, rng.fork('batches'));
  const model = buildModel(config, task, rng.fork('init'));
  const optimizer = buildOptimizer(config, model);
  optimizer.collectUpdateStats = true;
  try {
    const batch = task.batchOf(task.nextIndices());
    const info = await tf.profile(() => {
      const { packed } = trainStep(model, optimizer, task.kind, model.variables as tf.Variable[], batch);
      packed.dispose();
    });
    const counts = new Map<string, { shape: MatmulShape; count: number }>();
    for (const k of info.kernels) {
      if (!MATMUL_KERNELS.has(k.name)) continue;
      const shape = matmulShapeOf(k.inputShapes[0]!, k.outputShapes[0]!);
      const c = counts.get(key(shape));
      if (c) c.count += 1;
      else counts.set(key(shape), { shape, count: 1 });
    }
    return [...counts.values()];
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

export function totalMatmulFlops(counts: readonly MatmulCount[]): number {
  return counts.reduce((a, c) => a + c.count * matmulFlops(c.shape), 0);
}

/**
 * The rate of these matmuls run alone, GFLOP/s: their FLOPs ÷ the sum of each one's median time,
 * each shape timed as a plain (untransposed) matMul of random operands. `time(f, reps)` returns
 * f's median wall time in ms.
 */
export function matmulRateAt(counts: readonly MatmulCount[], time: (f: () => void, reps: number) => number, reps: number): number {
  let flops = 0;
  let ms = 0;
  for (const { shape: s, count } of counts) {
    const lead = s.rank === 3 ? [s.batch] : [];
    const [a, b] = tf.tidy(() => [tf.randomNormal([...lead, s.m, s.k], 0, 1, 'float32', 1), tf.randomNormal([...lead, s.k, s.n], 0, 1, 'float32', 2)]);
    try {
      ms += count * time(() => tf.tidy(() => void matMul(a!, b!).dataSync()), reps);
    } finally {
      tf.dispose([a!, b!]);
    }
    flops += count * matmulFlops(s);
  }
  return flops / ms / 1e6;
}
