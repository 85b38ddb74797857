/**
 * The stability study (REFERENCE §5, §7, §8): does Muon show fewer loss spikes and less divergence
 * than AdamW? Each optimizer tunes its own LR over a √10-spaced grid (Wortsman et al. 2023's spacing)
 * spanning ≥ 3 decades — Muon 1e-3…1 (7 points); AdamW 1e-4…0.316 (8 points, because MoE AdamW
 * tuned at the top of 1e-4…1e-1 in short runs) — with 5 seeds shared by both; then the
 * tuned LR is held constant at 1×, 2×, 4×, 8× (the Qwen3.8-Next stress test, extended to 8×) for a
 * horizon over 3× the tuning one.
 */
import { logGrid, type StudySpec } from '../../src/study/protocol.js';

const tasks = [
  // The study's MNIST MLP is 784-128-10: Newton–Schulz on a 784×256 matrix costs ~8× the step
  // itself on wasm, and the study runs it hundreds of times.
  { experiment: 'mnist-mlp', model: { kind: 'mlp', hidden: [128], activation: 'relu' } },
  // Arms (src/study/arms.ts) at the multipliers where either optimizer first fails: Muon with its
  // update RMS matched to AdamW's at AdamW's LR (Moonlight), and the bf16 and fp4 precision presets.
  { experiment: 'moe-regimes', arms: ['muon-match-rms', 'bf16', 'fp4'] },
  { experiment: 'moe-router-muon' },
] as const satisfies StudySpec['tasks'];

export const full: StudySpec = {
  name: 'stability',
  description: 'Muon vs AdamW: tuned LRs, LR sensitivity, and spikes/divergence at 1–8× the tuned LR',
  tasks,
  baseline: 'adamw',
  treatment: 'muon',
  seeds: [0, 1, 2, 3, 4],
  tune: {
    grid: { adamw: logGrid(1e-4, 0.316, 8), muon: logGrid(1e-3, 1, 7) },
    steps: 300,
  },
  stress: { multipliers: [1, 2, 4, 8], steps: 1000 },
};

/** The same pipeline, small: 4-point grids over the same 3 decades, 3 seeds, short horizons. */
export const quick: StudySpec = {
  ...full,
  name: 'stability-quick',
  seeds: [0, 1, 2],
  tune: {
    grid: { adamw: logGrid(1e-4, 1e-1, 4), muon: logGrid(1e-3, 1, 4) },
    steps: 80,
  },
  stress: { multipliers: [1, 2, 4, 8], steps: 200 },
};

export default full;
