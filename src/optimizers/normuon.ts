/**
 * NorMuon (Li et al. 2025, docs/references.md#muon): Muon whose orthogonalised update is normalised per
 * output neuron by an EMA of its mean square (β₂ = 0.95), then rescaled to its pre-normalisation
 * Frobenius norm. A variant in one short file: Muon's options and plan, one extra transform.
 */
import { defineOptimizer } from './define.js';
import { muonDirection, muonOptions, muonPlan } from './muon.js';
import { beta, epsilon } from './options.js';
import { chain, normalizeNeurons } from './transforms.js';

export const NorMuon = defineOptimizer({
  name: 'normuon',
  className: 'NorMuon',
  description: 'Muon + per-neuron second-moment normalisation after Newton–Schulz',
  options: {
    ...muonOptions,
    beta2: beta(0.95, 'neuron-wise second-moment decay β₂ ∈ [0, 1)', 'NorMuon (Li et al. 2025)'),
    normEpsilon: epsilon(1e-8, 'added to the neuron RMS', 'NorMuon (Li et al. 2025)'),
  },
  plan: (o) => muonPlan(o, chain(muonDirection(o), normalizeNeurons(o.beta2, o.normEpsilon))),
});
export type NorMuon = InstanceType<typeof NorMuon>;
