/**
 * ComposedOptimizer machinery shared by every optimizer: state save/restore (getWeights /
 * setWeights, including tfjs-layers' `_1` renaming) and tensor memory across steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdamW, Muon, createOptimizer, initBackend, listOptimizers, tf } from '../../src/index.js';
import { maxAbsDiff, printObserved, record, uniquePrefix, type AnyOptimizer, type ParamSpec } from './harness.js';
import { Rng, sizeOf } from './reference.js';

beforeAll(async () => {
  await initBackend();
});
afterAll(() => printObserved('composed'));

function makeVariables(params: readonly ParamSpec[], rng: Rng, suffix = ''): tf.Variable[] {
  return params.map((p) =>
    tf.tidy(() => tf.variable(tf.tensor(Float32Array.from(rng.normals(sizeOf(p.shape), 0.5)), p.shape as number[]), true, p.name + suffix)),
  );
}

function gradients(params: readonly ParamSpec[], rng: Rng, suffix = ''): tf.NamedTensorMap {
  return Object.fromEntries(
    params.map((p) => [p.name + suffix, tf.tensor(Float32Array.from(rng.normals(sizeOf(p.shape))), p.shape as number[])]),
  );
}

/** Same gradient values under other variable names. */
function rename(grads: tf.NamedTensorMap, suffix: string): tf.NamedTensorMap {
  return Object.fromEntries(Object.entries(grads).map(([k, v]) => [k + suffix, v]));
}

function values(vars: readonly tf.Variable[]): Float32Array[] {
  return vars.map((v) => v.dataSync() as Float32Array);
}

function worstDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  return Math.max(...a.map((x, i) => maxAbsDiff(x, b[i]!)));
}

interface TransferCase {
  label: string;
  make: () => AnyOptimizer;
  shapes: Record<string, number[]>;
}

const transferCases: TransferCase[] = [
  { label: 'AdamW', make: () => new AdamW({ learningRate: 1e-2, weightDecay: 0.1, amsgrad: true }), shapes: { w: [8, 16], b: [10] } },
  { label: 'Muon', make: () => new Muon({ weightDecay: 0.1 }), shapes: { w: [8, 16], experts: [3, 6, 10], b: [10] } },
];

describe('getWeights / setWeights', () => {
  for (const c of transferCases) {
    it(`${c.label}: a fresh optimizer given A's weights takes the same next step`, async () => {
      const p = uniquePrefix(`xfer${c.label}`);
      const params: ParamSpec[] = Object.entries(c.shapes).map(([k, shape]) => ({ name: `${p}${k}`, shape }));
      const rng = new Rng(99);
      const vars = makeVariables(params, rng);
      const a = c.make();
      for (let s = 0; s < 3; s++) {
        const g = gradients(params, rng);
        a.applyGradients(g);
        tf.dispose(Object.values(g));
      }
      const snapshot = vars.map((v) => tf.clone(v));
      const restore = (): void => vars.forEach((v, i) => v.assign(snapshot[i]!));
      const next = gradients(params, rng);

      const saved = await a.getWeights();
      expect(saved[0]!.name).toBe('iter');
      // One state weight per slot, named param/group/slot.
      for (const { name } of saved.slice(1)) expect(params.some((q) => name.startsWith(`${q.name}/`))).toBe(true);
      const b = c.make();
      await b.setWeights(saved);
      saved[0]!.tensor.dispose(); // getWeights' iteration scalar is a new tensor; the rest are A's live state
      expect(b.iterations).toBe(3);

      a.applyGradients(next);
      const afterA = values(vars);
      restore();
      b.applyGradients(next);
      const afterB = values(vars);
      const err = worstDiff(afterA, afterB);
      record(`setWeights ${c.label}`, err);
      expect(err).toBeLessThanOrEqual(1e-6);

      // Both now hold the same state.
      const [wa, wb] = [await a.getWeights(), await b.getWeights()];
      expect(wb.map((w) => w.name)).toEqual(wa.map((w) => w.name));
      wa.forEach((w, i) => expect(maxAbsDiff(w.tensor.dataSync(), wb[i]!.tensor.dataSync())).toBeLessThanOrEqual(1e-6));
      tf.dispose([wa[0]!.tensor, wb[0]!.tensor]);

      // The restored state mattered: a fresh optimizer takes a different step.
      restore();
      const fresh = c.make();
      fresh.applyGradients(next);
      expect(worstDiff(values(vars), afterA)).toBeGreaterThan(1e-4);

      // tfjs-layers renames a reloaded variable `x` to `x_1`: the state still finds its variable.
      const renamed = params.map((q, i) => tf.variable(snapshot[i]!, true, `${q.name}_1`));
      const d = c.make();
      const savedAgain = await a.getWeights();
      // D gets A's state after 4 steps; both take step 5 from the same values, D on the renamed variables.
      await d.setWeights(savedAgain);
      savedAgain[0]!.tensor.dispose();
      restore();
      const next2 = gradients(params, rng);
      a.applyGradients(next2);
      d.applyGradients(rename(next2, '_1'));
      const errRenamed = worstDiff(values(vars), values(renamed));
      record(`setWeights ${c.label}, renamed _1`, errRenamed);
      expect(errRenamed).toBeLessThanOrEqual(1e-6);
      expect((await d.getWeights()).slice(1).every((w) => /_1\//.test(w.name))).toBe(true);

      for (const o of [a, b, fresh, d]) o.dispose();
      tf.dispose([...vars, ...snapshot, ...renamed, ...Object.values(next), ...Object.values(next2)]);
    });
  }

  it('setWeights followed by dispose leaves no tensors behind', async () => {
    const p = uniquePrefix('leak');
    const params: ParamSpec[] = [
      { name: `${p}w`, shape: [8, 16] },
      { name: `${p}b`, shape: [10] },
    ];
    const rng = new Rng(5);
    const vars = makeVariables(params, rng);
    const a = new Muon();
    const g = gradients(params, rng);
    a.applyGradients(g);
    const saved = await a.getWeights();
    const before = tf.memory().numTensors;
    const b = new Muon();
    await b.setWeights(saved);
    b.applyGradients(g);
    b.dispose();
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
    tf.dispose([...vars, saved[0]!.tensor, ...Object.values(g)]);
  });
});

describe('memory: numTensors is constant across steps for every registered optimizer', () => {
  for (const info of listOptimizers()) {
    it(`${info.name}: 100 steps after the first with a matrix, an expert bank and a bias`, () => {
      const baseline = tf.memory().numTensors;
      const p = uniquePrefix(`mem${info.name.replace(/[^a-z0-9]/g, '')}`);
      const params: ParamSpec[] = [
        { name: `${p}w`, shape: [8, 16] },
        { name: `${p}experts`, shape: [3, 6, 10] },
        { name: `${p}b`, shape: [10] },
      ];
      const rng = new Rng(11);
      const vars = makeVariables(params, rng);
      const grads = gradients(params, rng);
      const opt = createOptimizer(info.name);
      const start = vars.map((v) => v.dataSync().slice());
      opt.applyGradients(grads);
      const afterFirst = tf.memory();
      for (let s = 0; s < 100; s++) opt.applyGradients(grads);
      const afterLast = tf.memory();
      expect(afterLast.numTensors).toBe(afterFirst.numTensors);
      expect(afterLast.numBytes).toBe(afterFirst.numBytes);
      // …and the steps did something.
      expect(Math.max(...vars.map((v, i) => maxAbsDiff(v.dataSync(), start[i]!)))).toBeGreaterThan(1e-3);
      opt.dispose();
      tf.dispose([...vars, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(baseline);
    });
  }

  it('update statistics (collectUpdateStats + takeUpdateRms) do not leak', async () => {
    const p = uniquePrefix('memstats');
    const params: ParamSpec[] = [
      { name: `${p}w`, shape: [8, 16] },
      { name: `${p}b`, shape: [10] },
    ];
    const rng = new Rng(12);
    const vars = makeVariables(params, rng);
    const grads = gradients(params, rng);
    const opt = new Muon();
    opt.collectUpdateStats = true;
    opt.applyGradients(grads);
    const rms = await opt.takeUpdateRms();
    expect(Object.keys(rms).sort()).toEqual(['adamw', 'muon']);
    const n = tf.memory().numTensors;
    for (let s = 0; s < 20; s++) {
      opt.applyGradients(grads);
      if (s % 5 === 4) await opt.takeUpdateRms();
    }
    await opt.takeUpdateRms();
    expect(tf.memory().numTensors).toBe(n);
    opt.dispose();
    tf.dispose([...vars, ...Object.values(grads)]);
  });
});
