/**
 * The experiments the benchmark times, by catalog name, loaded as a run would load them (with their
 * tuned LRs): the MLP and MoE step cases and the two transformer LMs (dense and MoE FFN).
 */
import { loadExperiment } from '../catalog/experiments.js';
import type { BenchOptions } from './bench.js';

const BENCH_EXPERIMENTS = { mlp: 'mnist-mlp', moe: 'moe-regimes', lmDense: 'lm-brown', lmMoe: 'lm-moe' } as const;

export async function loadBenchExperiments(): Promise<BenchOptions['experiments']> {
  return {
    mlp: await loadExperiment(BENCH_EXPERIMENTS.mlp),
    moe: await loadExperiment(BENCH_EXPERIMENTS.moe),
    lmDense: await loadExperiment(BENCH_EXPERIMENTS.lmDense),
    lmMoe: await loadExperiment(BENCH_EXPERIMENTS.lmMoe),
  };
}
