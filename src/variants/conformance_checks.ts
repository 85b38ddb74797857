/**
 * The conformance kit's checks themselves (conformance.ts runs them and reports): each builds what
 * it needs from a seeded generator, disposes it, and returns what it measured or throws a
 * CheckFailure with the reason.
 */
import { tf } from '../tf.js';
import { createOptimizer, type OptimizerInfo } from '../optimizers/index.js';
import { Rng } from '../data/rng.js';
import { defineExperiment, expandRuns } from '../train/config.js';
import { train } from '../train/loop.js';
import { PARAMS, disposeVars, firstDifference, fmt, gradientData, jsonEqual, makeVars, maxDiff, prefix, step, using, values } from './conformance_fixtures.js';

export const CONFORMANCE_CHECKS = [
  { id: 'options', title: 'options: each has a default, doc and source; bad values and unknown names rejected' },
  { id: 'config-round-trip', title: 'getConfig → JSON → fromConfig gives the same config and the same steps' },
  { id: 'save-reload', title: 'model.save with includeOptimizer + reload: the next step is the same' },
  { id: 'state-by-name', title: 'state keyed by variable name survives reordering of the variables' },
  { id: 'no-tensor-growth', title: 'no tensor growth over 100 steps; dispose() frees the state' },
  { id: 'deterministic', title: 'same seed and inputs → bit-identical parameters' },
  { id: 'nan-isolation', title: 'a NaN gradient in one parameter leaves the others finite and unchanged' },
  { id: 'trains', title: 'trains the quick MLP below its initial loss' },
] as const;

export type CheckId = (typeof CONFORMANCE_CHECKS)[number]['id'];

/** A check's verdict when it does not throw. */
export class CheckFailure extends Error {}

const fail = (reason: string): never => {
  throw new CheckFailure(reason);
};

type Optimizer = ReturnType<typeof createOptimizer>;

// ------------------------------------------------------------------ the checks

export interface Ctx {
  readonly name: string;
  readonly info: OptimizerInfo;
  readonly make: () => Optimizer;
  readonly options: Readonly<Record<string, unknown>>;
}

type Check = (ctx: Ctx) => Promise<string>;

export const checks: Record<CheckId, Check> = {
  async options({ name, info }) {
    for (const o of info.options) {
      for (const field of ['doc', 'source', 'accepts'] as const) {
        if (typeof o[field] !== 'string' || o[field].trim() === '') fail(`option "${o.name}" has no ${field}`);
      }
    }
    const opt = createOptimizer(name);
    const config = await using([opt], () => opt.getConfig());
    for (const o of info.options) {
      if (!jsonEqual(config[o.name], o.default)) {
        fail(`option "${o.name}": listed default ${JSON.stringify(o.default)}, but a default-built optimizer has ${JSON.stringify(config[o.name])}`);
      }
    }
    const rejects = (options: Record<string, unknown>, mustName: string): string | undefined => {
      try {
        createOptimizer(name, options).dispose();
        return 'accepted';
      } catch (e) {
        const err = e as Error;
        if (err.name !== 'OptionError') return `threw ${err.name} instead of OptionError: ${err.message}`;
        if (!err.message.includes(`"${mustName}"`)) return `its message does not name "${mustName}": ${err.message}`;
        return undefined;
      }
    };
    const unknown = rejects({ notAnOptionOfThisOptimizer: 1 }, 'notAnOptionOfThisOptimizer');
    if (unknown) fail(`an unknown option name: ${unknown}`);
    // NaN is out of range for every kind of option the sandbox has (numbers, flags, enums, objects).
    for (const o of info.options) {
      const problem = rejects({ [o.name]: NaN }, o.name);
      if (problem) fail(`option "${o.name}" = NaN: ${problem}`);
    }
    return `${info.options.length} options with default, doc and source; NaN rejected for each, naming it; unknown names rejected`;
  },

  async 'config-round-trip'({ make }) {
    const opt = make();
    return using([opt], async () => {
      const config = opt.getConfig();
      const json = JSON.parse(JSON.stringify(config)) as tf.serialization.ConfigDict;
      if (!jsonEqual(json, config)) fail(`getConfig() is not plain JSON: ${firstDifference(config, json)}`);
      const entry = tf.serialization.SerializationMap.getMap().classNameMap[opt.getClassName()];
      if (!entry) fail(`class "${opt.getClassName()}" is not registered with tf.serialization`);
      const [cls, fromConfig] = entry!;
      let back: tf.serialization.Serializable;
      try {
        back = fromConfig(cls, json);
      } catch (e) {
        return fail(`fromConfig(getConfig()) threw: ${(e as Error).message.split('\n')[0]}`);
      }
      const rebuilt = back as Optimizer;
      return using([rebuilt], async () => {
        if (rebuilt.getClassName() !== opt.getClassName()) fail(`fromConfig built a ${rebuilt.getClassName()}, not a ${opt.getClassName()}`);
        const again = JSON.parse(JSON.stringify(rebuilt.getConfig())) as Record<string, unknown>;
        if (!jsonEqual(again, json)) fail(`the config changed in the round trip: ${firstDifference(json, again)}`);
        // Same config must mean same optimizer: both take the same 3 steps.
        const a = makeVars('rt_a', 1);
        const b = makeVars('rt_b', 1);
        return using([disposeVars(a), disposeVars(b)], () => {
          for (const g of gradientData(2, 3)) {
            step(opt, a, g);
            step(rebuilt, b, g);
          }
          const d = maxDiff(values(a), values(b));
          if (d > 0) fail(`the rebuilt optimizer steps differently: max |Δθ| = ${fmt(d)} after 3 steps`);
          return `${Object.keys(json).length} config keys survive JSON; the rebuilt optimizer takes identical steps`;
        });
      });
    });
  },

  async 'save-reload'({ make }) {
    const p = prefix('layers');
    const build = (): tf.Sequential => {
      const model = tf.sequential();
      model.add(
        tf.layers.dense({
          units: 8,
          inputShape: [5],
          activation: 'tanh',
          name: `${p}hidden`,
          kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }),
          biasInitializer: tf.initializers.randomNormal({ seed: 2, stddev: 0.1 }),
        }),
      );
      model.add(tf.layers.dense({ units: 3, name: `${p}head`, kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }) }));
      return model;
    };
    const rng = new Rng(2024);
    const x = tf.tensor(rng.normals(16 * 5), [16, 5]);
    const y = tf.tensor(rng.normals(16 * 3), [16, 3]);
    const fit = { batchSize: 16, shuffle: false, verbose: 0 } as const;
    const optimizer = make();
    const model = build();
    const disposables: { dispose(): void }[] = [{ dispose: () => tf.dispose([x, y]) }, optimizer, model];
    return using(disposables, async () => {
      model.compile({ optimizer, loss: 'meanSquaredError' });
      await model.fit(x, y, { ...fit, epochs: 3 });
      let artifacts: tf.io.ModelArtifacts | undefined;
      await model.save(
        tf.io.withSaveHandler(async (a) => {
          artifacts = a;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
        { includeOptimizer: true },
      );
      let loaded: tf.LayersModel;
      try {
        loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
      } catch (e) {
        return fail(`tf.loadLayersModel could not rebuild the model with its optimizer: ${(e as Error).message.split('\n')[0]}`);
      }
      disposables.push(loaded, { dispose: () => loaded.optimizer?.dispose() });
      const loadedOpt = loaded.optimizer;
      if (!loadedOpt || loadedOpt.getClassName() !== optimizer.getClassName()) {
        fail(`the reloaded model's optimizer is ${loadedOpt?.getClassName() ?? 'missing'}, not ${optimizer.getClassName()}`);
      }
      if (loadedOpt!.iterations !== optimizer.iterations) fail(`iterations ${loadedOpt!.iterations} after reload, ${optimizer.iterations} before`);
      await model.fit(x, y, { ...fit, epochs: 1 });
      await loaded.fit(x, y, { ...fit, epochs: 1 });
      const weights = (m: tf.LayersModel) => m.getWeights().map((w) => w.dataSync() as Float32Array);
      const d = maxDiff(weights(model), weights(loaded));
      if (d > 1e-6) fail(`the step after reloading differs from the unsaved optimizer's: max |Δθ| = ${fmt(d)} (> 1e-6)`);
      const saved = (artifacts!.weightSpecs ?? []).filter((s) => s.group === 'optimizer').length;
      return `${saved} optimizer weights saved; the step after reload matches to ${fmt(d)}`;
    });
  },

  async 'state-by-name'({ make }) {
    const a = makeVars('order_a', 3);
    const b = makeVars('order_b', 3);
    const optA = make();
    const optB = make();
    const optC = make();
    return using([disposeVars(a), disposeVars(b), optA, optB, optC], async () => {
      const grads = gradientData(4, 4);
      for (const g of grads.slice(0, 3)) {
        step(optA, a, g, [0, 1, 2]);
        step(optB, b, g, [2, 0, 1]);
      }
      const d = maxDiff(values(a), values(b));
      if (d > 1e-6) fail(`the same gradients in another variable order give other parameters: max |Δθ| = ${fmt(d)}`);
      // A copy of the state given the variables in another order must take the same next step.
      const saved = await optA.getWeights();
      await optC.setWeights(saved);
      saved[0]?.tensor.dispose(); // getWeights' iteration count is a new tensor; the rest are A's live state
      const snapshot = a.vars.map((v) => v.clone());
      return using([{ dispose: () => tf.dispose(snapshot) }], () => {
        step(optA, a, grads[3]!, [0, 1, 2]);
        const afterA = values(a);
        a.vars.forEach((v, i) => v.assign(snapshot[i]!));
        step(optC, a, grads[3]!, [1, 2, 0]);
        const e = maxDiff(afterA, values(a));
        if (e > 1e-6) fail(`after getWeights/setWeights, the next step with the variables reordered differs: max |Δθ| = ${fmt(e)}`);
        return `3 steps in two orders agree to ${fmt(d)}; state restored by setWeights follows names (${fmt(e)})`;
      });
    });
  },

  async 'no-tensor-growth'({ make }) {
    const v = makeVars('memory', 5);
    const grads = gradientData(6, 1)[0]!;
    const gradTensors = PARAMS.map((q, i) => tf.tensor(grads[i]!, q.shape));
    const named = Object.fromEntries(v.names.map((n, i) => [n, gradTensors[i]!]));
    const before = tf.memory().numTensors;
    const opt = make();
    let disposed = false;
    return using([disposeVars(v), { dispose: () => tf.dispose(gradTensors) }, { dispose: () => disposed || opt.dispose() }], () => {
      const start = values(v);
      opt.applyGradients(named);
      const first = tf.memory();
      for (let s = 0; s < 100; s++) opt.applyGradients(named);
      const last = tf.memory();
      if (last.numTensors !== first.numTensors || last.numBytes !== first.numBytes) {
        fail(
          `${last.numTensors - first.numTensors} more tensors (${last.numBytes - first.numBytes} more bytes) after 100 more steps than after the first`,
        );
      }
      if (maxDiff(start, values(v)) === 0) fail('101 steps did not change the parameters');
      opt.dispose();
      disposed = true;
      const leftover = tf.memory().numTensors - before;
      if (leftover !== 0) fail(`dispose() left ${leftover} tensors behind`);
      return `${first.numTensors - before} tensors of state, constant over 100 steps; all freed by dispose()`;
    });
  },

  async deterministic({ make }) {
    const once = (label: string): Float32Array[] => {
      const v = makeVars(label, 7);
      const opt = make();
      try {
        for (const g of gradientData(8, 10)) step(opt, v, g);
        return values(v);
      } finally {
        opt.dispose();
        tf.dispose(v.vars);
      }
    };
    const d = maxDiff(once('det_a'), once('det_b'));
    if (d !== 0) fail(`two identical 10-step runs differ: max |Δθ| = ${fmt(d)}`);
    return 'two identical 10-step runs are bit-identical';
  },

  async 'nan-isolation'({ make }) {
    const run = (label: string, poison: boolean): Float32Array[] => {
      const v = makeVars(label, 9);
      const opt = make();
      try {
        gradientData(10, 5).forEach((g, s) => {
          const grads = s === 1 && poison ? [g[0]!.map((x, i) => (i === 3 ? NaN : x)), g[1]!, g[2]!] : g;
          step(opt, v, grads);
        });
        return values(v);
      } finally {
        opt.dispose();
        tf.dispose(v.vars);
      }
    };
    const clean = run('nan_clean', false);
    const poisoned = run('nan_poisoned', true);
    for (const i of [1, 2]) {
      const bad = poisoned[i]!.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) fail(`a NaN in the gradient of "${PARAMS[0]!.key}" made "${PARAMS[i]!.key}" non-finite (entry ${bad})`);
    }
    const d = maxDiff(clean.slice(1), poisoned.slice(1));
    if (d > 1e-6) fail(`a NaN in the gradient of "${PARAMS[0]!.key}" changed the other parameters' steps: max |Δθ| = ${fmt(d)}`);
    return `one NaN in the kernel's gradient at step 2; the bank and bias stay finite and take the same steps`;
  },

  async trains({ name, options }) {
    const [config] = expandRuns(QUICK_MLP, { optimizers: ['candidate'] }).map((c) => ({
      ...c,
      optimizer: { name, options: { ...options } },
    }));
    const outcome = await train(config!);
    const detail = `loss ${outcome.initialLoss.toFixed(4)} at step 1 → ${outcome.finalLoss.toFixed(4)} (mean of the last 10 of ${config!.steps} steps), eval ${outcome.evalLoss?.toFixed(4) ?? '—'}`;
    if (outcome.diverged) fail(`diverged at step ${outcome.divergedAtStep}: ${detail}`);
    if (!(outcome.finalLoss < outcome.initialLoss)) fail(`did not train below the initial loss: ${detail}`);
    return detail;
  },
};

/**
 * The quick MLP: the sandbox's MNIST MLP shrunk to seconds on both backends (784-32-10, 30 digits
 * per class, 40 steps of batch 32, constant LR), trained with the sandbox's own loop.
 */
const QUICK_MLP = defineExperiment({
  name: 'conformance-mlp',
  description: 'the conformance kit’s quick MLP',
  data: { kind: 'mnist', limitPerClass: 30 },
  model: { kind: 'mlp', hidden: [32], activation: 'relu' },
  steps: 40,
  batchSize: 32,
  evalEvery: 40,
  schedule: { kind: 'constant' },
  optimizers: { candidate: { name: 'adamw' } },
  seeds: [0],
});
