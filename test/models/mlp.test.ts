/** The MLP: shapes, parameter roles, seeded initialisation and the forward pass. */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { Rng } from '../../src/data/rng.js';
import { activate } from '../../src/models/activation.js';
import { createMlp, type MlpSpec } from '../../src/models/mlp.js';
import { parameterCount } from '../../src/models/model.js';
import { tf } from '../../src/tf.js';

beforeAll(async () => {
  await initBackend();
});

const spec: MlpSpec = { kind: 'mlp', hidden: [16, 8], activation: 'relu' };

describe('createMlp', () => {
  it('has kernels [in, out] and biases [out] for every layer, and the right output shape', () => {
    const model = createMlp(spec, 12, 5, new Rng(0));
    expect(model.kind).toBe('mlp');
    expect(model.variables.map((v) => v.shape)).toEqual([[12, 16], [16], [16, 8], [8], [8, 5], [5]]);
    expect(parameterCount(model)).toBe(12 * 16 + 16 + 16 * 8 + 8 + 8 * 5 + 5);
    const out = tf.tidy(() => model.forward(tf.zeros([7, 12]) as tf.Tensor2D).output.shape);
    expect(out).toEqual([7, 5]);
    model.dispose();
  });

  it('assigns roles: the last kernel is the head, other kernels hidden, every bias a bias', () => {
    const model = createMlp(spec, 12, 5, new Rng(0));
    const roles = model.variables.map((v) => model.roles[v.name]);
    expect(roles).toEqual(['hidden', 'bias', 'hidden', 'bias', 'head', 'bias']);
    expect(Object.keys(model.roles).sort()).toEqual(model.variables.map((v) => v.name).sort());
    // No hidden layers: the only kernel is the head.
    const linear = createMlp({ kind: 'mlp', hidden: [], activation: 'relu' }, 4, 3, new Rng(0));
    expect(linear.variables.map((v) => linear.roles[v.name])).toEqual(['head', 'bias']);
    linear.dispose();
    model.dispose();
  });

  it('gives distinct variable names to two models of the same spec', () => {
    const a = createMlp(spec, 12, 5, new Rng(0));
    const b = createMlp(spec, 12, 5, new Rng(0));
    const names = new Set([...a.variables, ...b.variables].map((v) => v.name));
    expect(names.size).toBe(12);
    a.dispose();
    b.dispose();
  });

  it('initialises identically for the same seed and differently for another, within U(±1/√fan_in)', () => {
    const a = createMlp(spec, 12, 5, new Rng(3));
    const b = createMlp(spec, 12, 5, new Rng(3));
    const c = createMlp(spec, 12, 5, new Rng(4));
    a.variables.forEach((v, i) => {
      const va = Array.from(v.dataSync());
      expect(va).toEqual(Array.from(b.variables[i]!.dataSync()));
      expect(va).not.toEqual(Array.from(c.variables[i]!.dataSync()));
      const fanIn = [12, 12, 16, 16, 8, 8][i]!;
      const bound = 1 / Math.sqrt(fanIn);
      expect(Math.max(...va.map(Math.abs))).toBeLessThanOrEqual(bound);
      // Not degenerate: the values spread over most of the range.
      expect(Math.max(...va) - Math.min(...va)).toBeGreaterThan(bound);
    });
    for (const m of [a, b, c]) m.dispose();
  });

  it('computes head(act(hidden(x))) with the given activation', () => {
    for (const activation of ['relu', 'tanh', 'silu', 'gelu'] as const) {
      const model = createMlp({ kind: 'mlp', hidden: [6], activation }, 4, 3, new Rng(9));
      const [k1, b1, k2, b2] = model.variables;
      const x = tf.tensor2d(new Rng(10).normals(5 * 4, 2), [5, 4]);
      const [got, want] = tf.tidy(() => [
        model.forward(x).output.dataSync(),
        tf.add(tf.matMul(activate(tf.add(tf.matMul(x, k1!), b1!), activation), k2!), b2!).dataSync(),
      ]);
      expect(Array.from(got!)).toEqual(Array.from(want!));
      x.dispose();
      model.dispose();
    }
  });

  it('activations match their definitions', () => {
    const xs = [-3, -1, -0.2, 0, 0.5, 2];
    const got = (a: 'relu' | 'tanh' | 'silu' | 'gelu') => tf.tidy(() => Array.from(activate(tf.tensor1d(xs), a).dataSync()));
    const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    const want = {
      relu: xs.map((x) => Math.max(0, x)),
      tanh: xs.map(Math.tanh),
      silu: xs.map((x) => x / (1 + Math.exp(-x))),
      gelu: xs.map(gelu),
    };
    for (const a of ['relu', 'tanh', 'silu', 'gelu'] as const) {
      got(a).forEach((v, i) => expect(v).toBeCloseTo(want[a][i]!, 5));
    }
  });

  it('dispose releases every variable', () => {
    const before = tf.memory().numTensors;
    const model = createMlp(spec, 12, 5, new Rng(0));
    expect(tf.memory().numTensors).toBe(before + 6);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(model.variables.every((v) => v.isDisposed)).toBe(true);
  });
});
