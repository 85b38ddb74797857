/**
 * The MoE task with its router on Muon too (the recipe Qwen avoided: docs/references.md#the-claim). Its LRs come
 * from its own tuning record, experiments/tuned/moe-router-muon.json.
 */
import { defineExperiment } from '../src/train/config.js';
import moe from './moe-regimes.js';

export default defineExperiment({
  ...moe,
  name: 'moe-router-muon',
  description: 'tiny MoE with the router on Muon (expert banks and router orthogonalised)',
  optimizers: {
    adamw: moe.optimizers['adamw']!,
    muon: { ...moe.optimizers['muon']!, routerOnMuon: true },
  },
});
