/**
 * Positive control for the spike detectors: a task where AdamW's loss is known to spike, by the
 * mechanism Bai et al. 2025 describe (docs/references.md#adam-spikes, "Adaptive Preconditioners
 * Trigger Loss Spikes in Adam", arXiv 2506.04805). Full-batch, noise-free regression drives the
 * gradient towards 0; Adam's second moment v̂ then decays by β₂ per step while g² sits far below it,
 * so the effective step lr/√v̂ grows until the sharpest direction turns unstable, the loss climbs
 * exponentially for a dozen steps, v̂ catches up and the loss falls back. β₂ = 0.999 (torch's
 * default) makes v̂ slow to catch up, so the spikes are large.
 *
 * Their simplest small-network setting, in this project's parts: the teacher–student task with no
 * label noise (so the loss can approach 0), a 16-32-4 tanh MLP, the whole 4096-example training set
 * as every batch, constant LR, no weight decay (decay keeps g away from 0 and hides the mechanism).
 * AdamW at lr 3e-2 spikes in every seed from step ≈ 800–1500 on, from losses of 1e-5…4e-4 to ≈ 1e-3;
 * at 1e-1 it spikes every ≈ 60 steps from step ≈ 500 (docs/study-v3-design.md has the runs).
 * Muon gets the same AdamW settings for the parameters it leaves to AdamW (biases, head), so any
 * difference comes from the hidden matrix.
 *
 * Detectors: the spikes happen at losses of 1e-5…1e-3, so the study's default absolute floor of 0.1
 * on the loss detectors (MIN_JUMP_DEFAULT) would hide every one of them. Here the loss rules are
 * purely relative (minJump 0); the full-batch loss has no minibatch noise to false-flag.
 */
import { defineExperiment } from '../src/train/config.js';

export default defineExperiment({
  name: 'adam-spike-control',
  description: 'positive control: full-batch noise-free teacher regression where AdamW (β₂ 0.999) spikes',
  data: { kind: 'teacher', noise: 0 },
  model: { kind: 'mlp', hidden: [32], activation: 'tanh' },
  steps: 4000,
  batchSize: 4096,
  evalEvery: 500,
  evalSize: 1024,
  schedule: { kind: 'constant' },
  optimizers: {
    adamw: { name: 'adamw', options: { learningRate: 3e-2, weightDecay: 0, beta2: 0.999 } },
    muon: { name: 'muon', options: { learningRate: 0.02, adamw: { learningRate: 3e-2, weightDecay: 0, beta2: 0.999 } } },
  },
  detectors: [
    { kind: 'rollingMedian', name: 'median', minJump: 0 },
    { kind: 'zscore', name: 'zscore', minJump: 0 },
    { kind: 'gradNormEma', name: 'gradnorm' },
  ],
  seeds: [0, 1, 2, 3, 4],
  lrSource: 'hand-picked: a positive control, set where AdamW is known to spike; not tuned',
  quick: { steps: 300, evalEvery: 150, seeds: [0] },
});
