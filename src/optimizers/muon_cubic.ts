/**
 * Muon with the textbook cubic Newton–Schulz iteration X ← 1.5·X − 0.5·X·Xᵀ·X (a, b, c) =
 * (1.5, −0.5, 0), which converges to the exact polar factor (singular values → 1) but needs more
 * steps than Keller's quintic. A variant that only changes defaults: same class shape as Muon.
 */
import { defineOptimizer } from './define.js';
import { muonDirection, muonOptions, muonPlan, nsCoefficientsOption } from './muon.js';
import { numberOption } from './options.js';

const SOURCE = 'Newton–Schulz polar iteration (Higham, Functions of Matrices §8.3)';

export const MuonCubic = defineOptimizer({
  name: 'muon-cubic',
  className: 'MuonCubic',
  description: 'Muon with the exact-converging cubic Newton–Schulz iteration, 12 steps',
  options: {
    ...muonOptions,
    nsSteps: numberOption(12, { min: 1, max: 99, integer: true }, 'Newton–Schulz iterations', SOURCE),
    nsCoefficients: nsCoefficientsOption([1.5, -0.5, 0], SOURCE),
  },
  plan: (o) => muonPlan(o, muonDirection(o)),
});
export type MuonCubic = InstanceType<typeof MuonCubic>;
