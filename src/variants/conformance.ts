/**
 * The conformance kit: the generic checks every shipped optimizer passes, runnable on any
 * registered optimizer (a user's variant included) by name, from the CLI (`check-optimizer`) or
 * from vitest (`checkOptimizer`). In the spirit of pytorch_optimizer, which runs each of its
 * optimizers through the same tests: a variant's author learns whether it is sound before
 * comparing it with anything.
 *
 * Each check builds what it needs from a seeded generator, disposes it, and reports pass, fail
 * (with the reason) or skip (with why it cannot apply). The model-level checks use a tiny Dense
 * network (tfjs-layers) and the sandbox's own training loop on a small MNIST MLP.
 */
import { tf } from '../tf.js';
import { currentBackend, initBackend, type BackendName } from '../backend.js';
import { createOptimizer, listOptimizers, type OptimizerInfo } from '../optimizers/index.js';
import { Rng } from '../data/rng.js';
import { defineExperiment, expandRuns } from '../train/config.js';
import { train } from '../train/loop.js';
import { renderTable } from '../text/table.js';

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
export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  readonly check: CheckId;
  readonly backend: string;
  readonly status: CheckStatus;
  /** What was measured (pass), the reason (fail), or why the check cannot apply (skip). */
  readonly detail: string;
  readonly ms: number;
}

export interface ConformanceReport {
  readonly optimizer: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly info: OptimizerInfo;
  readonly results: readonly CheckResult[];
  /** One line per failed check: "<backend> <check>: <reason>". Empty when everything passed. */
  readonly failures: readonly string[];
  readonly passed: boolean;
}

export interface ConformanceOptions {
  /** Options the optimizer is built with in every check (default: its defaults). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Backends to run on, in order (default: the current one). The current backend is restored after. */
  readonly backends?: readonly BackendName[];
  /** Checks that cannot apply to this optimizer, with the reason (reported as skipped). */
  readonly skip?: Readonly<Partial<Record<CheckId, string>>>;
  /** Only these checks (default: all). */
  readonly only?: readonly CheckId[];
}

/** A check's verdict when it does not throw. */
class CheckFailure extends Error {}

const fail = (reason: string): never => {
  throw new CheckFailure(reason);
};

type Optimizer = ReturnType<typeof createOptimizer>;

// ------------------------------------------------------------------ shared fixtures

interface Param {
  readonly key: string;
  readonly shape: number[];
}

/** A Dense kernel, an expert bank (rank 3) and a bias: the three kinds of parameter the sandbox trains. */
const PARAMS: readonly Param[] = [
  { key: 'kernel', shape: [4, 6] },
  { key: 'bank', shape: [2, 3, 5] },
  { key: 'bias', shape: [5] },
];

let counter = 0;
/** tfjs variable names are global to the engine: each fixture gets its own prefix. */
const prefix = (label: string): string => `conformance${++counter}_${label}_`;

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

interface Vars {
  readonly names: string[];
  readonly vars: tf.Variable[];
}

function makeVars(label: string, seed: number): Vars {
  const p = prefix(label);
  const rng = new Rng(seed);
  const names = PARAMS.map((q) => `${p}${q.key}`);
  const vars = PARAMS.map((q, i) => tf.tidy(() => tf.variable(tf.tensor(rng.normals(size(q.shape), 0.5), q.shape), true, names[i])));
  return { names, vars };
}

/** Seeded gradients per step, as plain arrays, so two runs can get exactly the same ones. */
function gradientData(seed: number, steps: number): Float32Array[][] {
  const rng = new Rng(seed);
  return Array.from({ length: steps }, () => PARAMS.map((q) => rng.normals(size(q.shape))));
}

/** Apply one step's gradients under `v`'s names, in the given parameter order. */
function step(opt: Optimizer, v: Vars, grads: readonly Float32Array[], order: readonly number[] = [0, 1, 2]): void {
  const list = order.map((i) => ({ name: v.names[i]!, tensor: tf.tensor(grads[i]!, PARAMS[i]!.shape) }));
  try {
    opt.applyGradients(list);
  } finally {
    tf.dispose(list.map((g) => g.tensor));
  }
}

const values = (v: Vars): Float32Array[] => v.vars.map((x) => x.dataSync() as Float32Array);

function maxDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => {
    const y = b[i]!;
    for (let j = 0; j < x.length; j++) {
      const d = Math.abs(x[j]! - y[j]!);
      // NaN on one side only is a difference; NaN on both is not.
      if (Number.isNaN(d)) m = Number.isNaN(x[j]!) && Number.isNaN(y[j]!) ? m : Infinity;
      else m = Math.max(m, d);
    }
  });
  return m;
}

const fmt = (x: number): string => (x === 0 ? '0' : x.toExponential(1));

/** Run `body` with `resources` disposed afterwards, whatever happens. */
async function using<T>(resources: { dispose(): void }[], body: () => Promise<T> | T): Promise<T> {
  try {
    return await body();
  } finally {
    for (const r of resources) r.dispose();
  }
}

const disposeVars = (v: Vars) => ({ dispose: () => tf.dispose(v.vars) });

function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** The first top-level key whose JSON differs, for a failure message. */
function firstDifference(a: Record<string, unknown>, b: Record<string, unknown>): string {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!jsonEqual(a[k], b[k])) return `"${k}": ${JSON.stringify(a[k])} became ${JSON.stringify(b[k])}`;
  }
  return 'no difference found';
}

// ------------------------------------------------------------------ the checks

interface Ctx {
  readonly name: string;
  readonly info: OptimizerInfo;
  readonly make: () => Optimizer;
  readonly options: Readonly<Record<string, unknown>>;
}

type Check = (ctx: Ctx) => Promise<string>;

const checks: Record<CheckId, Check> = {
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

// ------------------------------------------------------------------ running the kit

/**
 * Run the conformance checks on a registered optimizer. Never throws for a failing check: each
 * result says pass, fail (with the reason) or skip; `failures` lists the failed ones.
 * An unknown name throws (an OptionError naming the known optimizers).
 */
export async function checkOptimizer(name: string, o: ConformanceOptions = {}): Promise<ConformanceReport> {
  const info = listOptimizers().find((x) => x.name === name);
  const options = o.options ?? {};
  // Bad names and bad options fail here, in one line, before any check runs.
  createOptimizer(name, { ...options }).dispose();
  const original = currentBackend().name;
  const backends = o.backends ?? [original];
  const results: CheckResult[] = [];
  const ctx: Ctx = { name, info: info!, options, make: () => createOptimizer(name, { ...options }) };
  try {
    for (const backend of backends) {
      await initBackend({ requested: backend });
      for (const { id } of CONFORMANCE_CHECKS) {
        if (o.only && !o.only.includes(id)) continue;
        const skip = o.skip?.[id];
        if (skip) {
          results.push({ check: id, backend, status: 'skip', detail: skip, ms: 0 });
          continue;
        }
        const started = performance.now();
        let status: CheckStatus = 'pass';
        let detail: string;
        try {
          detail = await checks[id](ctx);
        } catch (e) {
          status = 'fail';
          detail = e instanceof CheckFailure ? e.message : `threw ${(e as Error)?.name ?? 'an error'}: ${String((e as Error)?.message ?? e).split('\n')[0]}`;
        }
        results.push({ check: id, backend, status, detail, ms: performance.now() - started });
      }
    }
  } finally {
    await initBackend({ requested: original });
  }
  const failures = results.filter((r) => r.status === 'fail').map((r) => `${r.backend} ${r.check}: ${r.detail}`);
  return { optimizer: name, options, info: info!, results, failures, passed: failures.length === 0 };
}

/** The report as text: the options with their defaults and sources, then a pass/fail table and the reasons. */
export function formatConformance(report: ConformanceReport): string {
  const backends = [...new Set(report.results.map((r) => r.backend))];
  const given = Object.keys(report.options);
  const lines: string[] = [
    `${report.optimizer} (${report.info.className}): ${report.info.description}`,
    '',
    renderTable(
      ['option', 'default', 'accepts', 'source'],
      report.info.options.map((opt) => [
        given.includes(opt.name) ? `${opt.name} (checked with ${JSON.stringify(report.options[opt.name])})` : opt.name,
        JSON.stringify(opt.default),
        opt.accepts,
        opt.source,
      ]),
    ),
    '',
  ];
  const rows = CONFORMANCE_CHECKS.filter(({ id }) => report.results.some((r) => r.check === id)).map(({ id, title }) => [
    id,
    title,
    ...backends.map((b) => {
      const r = report.results.find((x) => x.check === id && x.backend === b);
      if (!r) return '';
      return r.status === 'pass' ? `pass (${Math.round(r.ms)} ms)` : r.status === 'fail' ? 'FAIL' : 'skip';
    }),
  ]);
  lines.push(renderTable(['check', 'what', ...backends], rows));
  const notes = report.results.filter((r) => r.status !== 'pass');
  if (notes.length > 0) {
    lines.push('');
    for (const r of notes) lines.push(`${r.status === 'fail' ? 'FAIL' : 'skip'} ${r.backend} ${r.check}: ${r.detail}`);
  }
  const failed = report.failures.length;
  lines.push('', failed === 0 ? `${report.optimizer}: all checks passed` : `${report.optimizer}: ${failed} check${failed > 1 ? 's' : ''} failed`);
  return lines.join('\n');
}
