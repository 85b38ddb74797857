/** Tiny experiment specs shared by the training, run-file and pool tests (seconds, not minutes), and a run summary without a run. */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineExperiment, expandRuns, type ExperimentSpec, type ResolveOverrides, type RunConfig } from '../../src/train/config.js';
import type { RunSummary } from '../../src/train/run.js';

/** MNIST, 30 digits per class (240 train / 60 test), 784-32-10 MLP, AdamW and Muon. */
export const tinyMlp: ExperimentSpec = defineExperiment({
  name: 'tiny-mlp',
  description: 'test fixture',
  data: { kind: 'mnist', limitPerClass: 30 },
  model: { kind: 'mlp', hidden: [32], activation: 'relu' },
  steps: 30,
  batchSize: 32,
  evalEvery: 10,
  schedule: { kind: 'cosine', warmup: 5, minFactor: 0.1 },
  optimizers: {
    adamw: { name: 'adamw', options: { learningRate: 1e-2, weightDecay: 0.01 } },
    muon: { name: 'muon', options: { learningRate: 0.05, adamw: { learningRate: 1e-2 } } },
  },
  seeds: [0],
});

/** The clustered-regimes regression task with a 4-expert top-2 MoE. */
export const tinyMoe: ExperimentSpec = defineExperiment({
  name: 'tiny-moe',
  description: 'test fixture',
  data: { kind: 'regimes', clusters: 4 },
  model: { kind: 'moe', experts: 4, topK: 2, expertHidden: 8, activation: 'relu' },
  steps: 30,
  batchSize: 32,
  evalEvery: 10,
  evalSize: 256,
  schedule: { kind: 'constant' },
  optimizers: {
    adamw: { name: 'adamw', options: { learningRate: 3e-3 } },
    muon: { name: 'muon', options: { learningRate: 0.02, adamw: { learningRate: 3e-3 } } },
  },
  seeds: [0],
});

/** The single run of `spec` for optimizer `label` and `seed`, with optional overrides. */
export function oneRun(spec: ExperimentSpec, label: string, seed = 0, o: ResolveOverrides = {}): RunConfig {
  const runs = expandRuns(spec, { optimizers: [label], seeds: [seed], ...o });
  if (runs.length !== 1) throw new Error(`expected one run, got ${runs.length}`);
  return runs[0]!;
}

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `opt-sandbox-${label}-`));
}

/** Every file under `dir` (recursively) except those under `skip`, path relative to `dir` → bytes. */
export function filesUnder(dir: string, skip: readonly string[] = []): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const visit = (rel: string) => {
    const abs = join(dir, rel);
    if (statSync(abs).isDirectory()) {
      for (const e of readdirSync(abs).sort()) if (!skip.includes(join(rel, e))) visit(join(rel, e));
    } else out.set(rel, readFileSync(abs));
  };
  for (const e of readdirSync(dir).sort()) if (!skip.includes(e)) visit(e);
  return out;
}

/** A tiny transformer LM on the Brown text: d 16, 2 heads, 2 blocks, context 16, batch 4. */
export const tinyLm: ExperimentSpec = defineExperiment({
  name: 'tiny-lm',
  description: 'test fixture',
  data: { kind: 'brown' },
  model: { kind: 'transformer', dModel: 16, heads: 2, layers: 2, context: 16, ffn: 'moe', moe: { experts: 4, expertHidden: 8 } },
  steps: 12,
  batchSize: 4,
  evalEvery: 6,
  evalSize: 8,
  schedule: { kind: 'constant' },
  optimizers: {
    adamw: { name: 'adamw', options: { learningRate: 3e-3 } },
    muon: { name: 'muon', options: { learningRate: 0.02, adamw: { learningRate: 3e-3 } } },
  },
  seeds: [0],
});

/**
 * A finished run's summary for the analysis tests, without training: a muon run of 100 steps at 1×
 * from loss 4.4 to 2.1, no spikes. Every field can be overridden; initialEvalLoss is absent (as in
 * summaries from before it existed) unless given.
 */
export const fakeSummary = (p: Partial<RunSummary> = {}): RunSummary => ({
  experiment: 'x',
  optimizer: 'muon',
  optimizerName: 'muon',
  seed: 0,
  lrScale: 1,
  steps: 100,
  plannedSteps: 100,
  finalLoss: 2.1,
  minLoss: 2,
  initialLoss: 4.4,
  evalLoss: 2.1,
  spikes: {},
  spikeDetails: {},
  diverged: false,
  divergedAtStep: null,
  interrupted: false,
  wallSeconds: 1,
  backend: 'wasm',
  configHash: '0',
  ...p,
});
