/**
 * tfjs-layers integration (docs/references.md#tfjs-optimizers): compile/fit with our optimizers, save with
 * includeOptimizer, load, and check that training resumes exactly where it stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdamW, Muon, initBackend, tf } from '../../src/index.js';
import { maxAbsDiff, printObserved, record, type AnyOptimizer } from './harness.js';
import { Rng } from './reference.js';

beforeAll(async () => {
  await initBackend();
});
afterAll(() => printObserved('layers'));

type Artifacts = tf.io.ModelArtifacts;

function buildModel(): tf.Sequential {
  const model = tf.sequential();
  model.add(
    tf.layers.dense({
      units: 8,
      inputShape: [5],
      activation: 'tanh',
      name: 'hidden',
      kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }),
      biasInitializer: tf.initializers.randomNormal({ seed: 2, stddev: 0.1 }),
    }),
  );
  model.add(tf.layers.dense({ units: 3, name: 'head', kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }) }));
  return model;
}

function data(): { x: tf.Tensor; y: tf.Tensor } {
  const rng = new Rng(2024);
  return { x: tf.tensor(Float32Array.from(rng.normals(16 * 5)), [16, 5]), y: tf.tensor(Float32Array.from(rng.normals(16 * 3)), [16, 3]) };
}

const FIT = { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 } as const;

async function save(model: tf.LayersModel): Promise<Artifacts> {
  let artifacts: Artifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  if (!artifacts) throw new Error('save handler was not called');
  return artifacts;
}

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

function worst(a: Float32Array[], b: Float32Array[]): number {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((x, i) => maxAbsDiff(x, b[i]!)));
}

const cases: { label: string; make: () => AnyOptimizer; cls: abstract new (...args: never[]) => AnyOptimizer; groups: string[] }[] = [
  { label: 'AdamW', make: () => new AdamW({ learningRate: 1e-2, weightDecay: 0.05 }), cls: AdamW, groups: ['adamw'] },
  { label: 'Muon', make: () => new Muon({ weightDecay: 0.1, adamw: { learningRate: 1e-3, beta1: 0.9, beta2: 0.95, epsilon: 1e-10, weightDecay: 0, amsgrad: false } }), cls: Muon, groups: ['muon', 'adamw'] },
];

describe('tfjs-layers: compile, fit, save with optimizer, load, resume', () => {
  for (const c of cases) {
    it(`${c.label}`, async () => {
      const { x, y } = data();
      const optimizer = c.make();
      const model = buildModel();
      model.compile({ optimizer, loss: 'meanSquaredError' });
      const before = weightsOf(model);
      const h = await model.fit(x, y, { ...FIT, epochs: 3 });
      const losses = h.history['loss'] as number[];
      expect(losses).toHaveLength(3);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses[2]!).toBeLessThan(losses[0]!);
      expect(worst(before, weightsOf(model))).toBeGreaterThan(1e-3);
      expect(optimizer.iterations).toBe(3);

      const artifacts = await save(model);
      const optimizerSpecs = (artifacts.weightSpecs ?? []).filter((s) => s.group === 'optimizer');
      expect(optimizerSpecs.length).toBeGreaterThan(1);
      // Every state weight is named variable/group/slot, and the groups are this optimizer's.
      for (const s of optimizerSpecs.slice(1)) expect(c.groups).toContain(s.name.split('/').slice(-2)[0]);
      const trainingConfig = artifacts.trainingConfig;
      expect((trainingConfig?.optimizer_config as { class_name?: string } | undefined)?.class_name).toBe(optimizer.getClassName());

      const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
      const loadedOpt = loaded.optimizer as AnyOptimizer;
      expect(loadedOpt).toBeInstanceOf(c.cls);
      expect(loadedOpt.getConfig()).toEqual(optimizer.getConfig());
      expect(loadedOpt.iterations).toBe(3);
      expect(worst(weightsOf(model), weightsOf(loaded))).toBe(0);
      // Same process: the loaded variables were renamed (`_1`, `_2`, …), the state must follow them.
      expect(loaded.trainableWeights.every((w) => /_\d+$/.test(w.name))).toBe(true);

      await model.fit(x, y, FIT);
      await loaded.fit(x, y, FIT);
      const err = worst(weightsOf(model), weightsOf(loaded));
      record(`layers ${c.label} resumed step`, err);
      expect(err).toBeLessThanOrEqual(1e-6);
      expect(loadedOpt.iterations).toBe(4);

      // The restored state mattered: the same model with a fresh optimizer steps elsewhere.
      const fresh = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
      const freshOpt = c.make();
      fresh.compile({ optimizer: freshOpt, loss: 'meanSquaredError' });
      await fresh.fit(x, y, FIT);
      expect(worst(weightsOf(model), weightsOf(fresh))).toBeGreaterThan(1e-5);

      for (const o of [optimizer, loadedOpt, freshOpt]) o.dispose();
      for (const m of [model, loaded, fresh]) m.dispose();
      tf.dispose([x, y]);
    });
  }
});
