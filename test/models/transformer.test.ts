/**
 * The transformer LM: gradients against central finite differences (cpu backend),
 * causality, qk-norm's scale invariance, QK-clip's bound and untouched heads, role routing, the
 * reported signals, and no tensor leaks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { Rng } from '../../src/data/rng.js';
import { geluTanh } from '../../src/models/activation.js';
import { createTransformer, TRANSFORMER_DEFAULTS, type TransformerModel, type TransformerSpec } from '../../src/models/transformer.js';
import { tf } from '../../src/tf.js';

const V = 7;

function spec(over: Partial<TransformerSpec> = {}): TransformerSpec {
  return { ...TRANSFORMER_DEFAULTS, kind: 'transformer', dModel: 8, heads: 2, layers: 2, context: 5, ...over };
}

function tokens(batch: number, t: number, seed: number): tf.Tensor2D {
  const rng = new Rng(seed);
  return tf.tensor2d(Int32Array.from({ length: batch * t }, () => rng.int(V)), [batch, t], 'int32');
}

function targets(batch: number, t: number, seed: number): tf.Tensor2D {
  const rng = new Rng(seed + 1000);
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from({ length: batch * t }, () => rng.int(V)), 'int32'), V), 'float32') as tf.Tensor2D);
}

/** Mean cross-entropy + auxiliary terms: the training objective. */
function objective(model: TransformerModel, x: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
  const out = model.forward(x);
  const ce = tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(out.output)), -1)));
  return (out.auxLoss ? tf.add(ce, out.auxLoss) : ce) as tf.Scalar;
}

function variableByName(model: TransformerModel, suffix: string): tf.Variable {
  const v = model.variables.find((w) => w.name.endsWith(suffix));
  if (!v) throw new Error(`no variable ending in ${suffix}`);
  return v as tf.Variable;
}

describe('transformer gradients (cpu backend, central differences)', () => {
  let previous = '';
  beforeAll(async () => {
    await initBackend();
    previous = tf.getBackend();
    await tf.setBackend('cpu');
  });
  afterAll(async () => {
    await tf.setBackend(previous);
  });

  const cases: [string, Partial<TransformerSpec>][] = [
    ['dense FFN with qk-norm and output z-loss', { qkNorm: true, outputZLossCoef: 1e-2 }],
    ['MoE FFN', { ffn: 'moe', moe: { ...TRANSFORMER_DEFAULTS.moe, experts: 3, expertHidden: 4, topK: 2 } }],
  ];
  for (const [name, over] of cases) {
    it(name, () => {
      const model = createTransformer(spec(over), V, new Rng(3));
      const x = tokens(2, 5, 1);
      const y = targets(2, 5, 1);
      try {
        const { grads } = tf.variableGrads(() => objective(model, x, y), model.variables as tf.Variable[]);
        const rng = new Rng(9);
        let checked = 0;
        for (const v of model.variables as tf.Variable[]) {
          const g = grads[v.name]!.dataSync();
          const base = v.dataSync().slice();
          for (let trial = 0; trial < 3; trial++) {
            const i = rng.int(v.size);
            const h = 1e-2;
            const at = (delta: number) => {
              const w = base.slice();
              w[i] = base[i]! + delta;
              v.assign(tf.tensor(w, v.shape));
              return tf.tidy(() => objective(model, x, y).dataSync()[0]!);
            };
            const fd = (at(h) - at(-h)) / (2 * h);
            v.assign(tf.tensor(base, v.shape));
            // float32 losses: the difference quotient carries ~1e-5/h of rounding noise.
            expect(Math.abs(fd - g[i]!), `${v.name}[${i}]: fd ${fd} vs grad ${g[i]}`).toBeLessThan(2e-3 + 2e-2 * Math.abs(g[i]!));
            checked++;
          }
        }
        expect(checked).toBeGreaterThan(30);
        tf.dispose(Object.values(grads));
      } finally {
        tf.dispose([x, y]);
        model.dispose();
      }
    });
  }

  it('GELU (tanh form) has the closed-form derivative of 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))', () => {
    const xs = [-4, -1.5, -0.3, 0, 0.2, 1, 2.5, 5];
    const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(geluTanh(x)))(tf.tensor1d(xs)).dataSync());
    const v = tf.tidy(() => geluTanh(tf.tensor1d(xs)).dataSync());
    xs.forEach((x, i) => {
      expect(v[i]!).toBeCloseTo(gelu(x), 5);
      expect(g[i]!).toBeCloseTo((gelu(x + 1e-4) - gelu(x - 1e-4)) / 2e-4, 3);
    });
  });
});

describe('transformer forward', () => {
  beforeAll(async () => {
    await initBackend();
  });

  for (const ffn of ['dense', 'moe'] as const) {
    it(`is causal (${ffn}): changing token j leaves the logits at positions i < j unchanged`, () => {
      const model = createTransformer(spec({ ffn }), V, new Rng(4));
      try {
        const t = 5;
        const base = Array.from(tokens(1, t, 2).dataSync());
        const logitsOf = (ids: number[]) =>
          tf.tidy(() => Array.from(model.forward(tf.tensor2d(Int32Array.from(ids), [1, t], 'int32')).output.dataSync()));
        const ref = logitsOf(base);
        for (let j = 1; j < t; j++) {
          const changed = base.slice();
          changed[j] = (changed[j]! + 3) % V;
          const got = logitsOf(changed);
          for (let k = 0; k < j * V; k++) expect(got[k]).toBeCloseTo(ref[k]!, 6);
          // ...and the token itself does change its own position's logits.
          const own = got.slice(j * V, (j + 1) * V).some((v, k) => Math.abs(v - ref[j * V + k]!) > 1e-6);
          expect(own).toBe(true);
        }
      } finally {
        model.dispose();
      }
    });
  }

  it('with qkNorm, scaling Wq by a constant leaves the output unchanged', () => {
    const model = createTransformer(spec({ qkNorm: true }), V, new Rng(5));
    const x = tokens(2, 5, 3);
    try {
      const before = tf.tidy(() => model.forward(x).output.dataSync());
      for (const v of model.variables.filter((w) => w.name.endsWith('/attn/wq')) as tf.Variable[]) {
        tf.tidy(() => v.assign(tf.mul(v, 7.5)));
      }
      const after = tf.tidy(() => model.forward(x).output.dataSync());
      before.forEach((b, i) => expect(after[i]).toBeCloseTo(b, 4));
      // Without qkNorm the same scaling does change the output (the test above is not vacuous).
      const plain = createTransformer(spec(), V, new Rng(5));
      const p0 = tf.tidy(() => plain.forward(x).output.dataSync());
      const wq = plain.variables.find((w) => w.name.endsWith('layer0/attn/wq')) as tf.Variable;
      tf.tidy(() => wq.assign(tf.mul(wq, 7.5)));
      const p1 = tf.tidy(() => plain.forward(x).output.dataSync());
      expect(p0.some((v, i) => Math.abs(v - p1[i]!) > 1e-3)).toBe(true);
      plain.dispose();
    } finally {
      x.dispose();
      model.dispose();
    }
  });

  it('QK-clip brings every head over τ to ≤ τ(1 + 1e-4) on the same batch and leaves heads under τ untouched', () => {
    // Two layers, clipped together (as after a training step): the bound on the same batch holds
    // exactly for the first layer; the second layer's input then changes with the first layer's
    // clip, so its bound is checked on a one-layer model below.
    const model = createTransformer(spec({ dModel: 16, heads: 4 }), V, new Rng(6));
    const x = tokens(3, 5, 4);
    try {
      // Blow up heads 0 and 2 of layer 0 and head 1 of layer 1 so their logits exceed τ.
      const blow = (suffix: string, heads: number[]) => {
        const wq = variableByName(model, suffix);
        const scale = new Float32Array(16).fill(1);
        for (const h of heads) scale.fill(40, h * 4, (h + 1) * 4);
        tf.tidy(() => wq.assign(tf.mul(wq, tf.tensor1d(scale))));
      };
      blow('layer0/attn/wq', [0, 2]);
      blow('layer1/attn/wq', [1]);
      const maxima = () => tf.tidy(() => Array.from(model.forward(x).stats!['attnLogitMax']!.dataSync()));
      const before = maxima();
      const sorted = [...before].sort((a, b) => a - b);
      const tau = (sorted[4]! + sorted[5]!) / 2; // three heads above, five below
      expect(before.filter((m) => m > tau)).toHaveLength(3);
      const snapshot = (suffix: string) => variableByName(model, suffix).dataSync().slice();
      const wqs = [snapshot('layer0/attn/wq'), snapshot('layer1/attn/wq')];
      const wks = [snapshot('layer0/attn/wk'), snapshot('layer1/attn/wk')];

      const clipped = model.clipAttentionLogits(before, tau, 0.5);
      expect(clipped).toBe(3);
      const after = maxima();
      after.slice(0, 4).forEach((m, i) => {
        expect(m).toBeLessThanOrEqual(tau * (1 + 1e-4));
        if (before[i]! <= tau) expect(m).toBeCloseTo(before[i]!, 5);
        else expect(m).toBeCloseTo(tau, 3);
      });
      // Untouched heads: their columns of Wq and Wk are bit-for-bit the same.
      ['layer0', 'layer1'].forEach((layer, l) => {
        const wq = snapshot(`${layer}/attn/wq`);
        const wk = snapshot(`${layer}/attn/wk`);
        for (let h = 0; h < 4; h++) {
          const over = before[l * 4 + h]! > tau;
          for (let r = 0; r < 16; r++) {
            for (let c = h * 4; c < (h + 1) * 4; c++) {
              const k = r * 16 + c;
              if (!over) {
                expect(wq[k]).toBe(wqs[l]![k]);
                expect(wk[k]).toBe(wks[l]![k]);
              } else {
                const gamma = tau / before[l * 4 + h]!;
                expect(wq[k]).toBeCloseTo(wqs[l]![k]! * Math.sqrt(gamma), 5);
                expect(wk[k]).toBeCloseTo(wks[l]![k]! * Math.sqrt(gamma), 5);
              }
            }
          }
        }
      });
    } finally {
      x.dispose();
      model.dispose();
    }
  });

  it('QK-clip bounds every head of a one-layer model on the same batch, for any α', () => {
    for (const alpha of [0, 0.5, 1]) {
      const model = createTransformer(spec({ dModel: 16, heads: 4, layers: 1 }), V, new Rng(10));
      const x = tokens(3, 5, 6);
      try {
        const wq = variableByName(model, 'layer0/attn/wq');
        tf.tidy(() => wq.assign(tf.mul(wq, tf.tensor1d(Float32Array.from({ length: 16 }, (_, c) => (c < 8 ? 30 : 1))))));
        const maxima = () => tf.tidy(() => Array.from(model.forward(x).stats!['attnLogitMax']!.dataSync()));
        const before = maxima();
        const tau = Math.min(before[0]!, before[1]!) * 0.5;
        expect(before[2]! < tau && before[3]! < tau).toBe(true);
        expect(model.clipAttentionLogits(before, tau, alpha)).toBe(2);
        const after = maxima();
        after.forEach((m) => expect(m).toBeLessThanOrEqual(tau * (1 + 1e-4)));
        expect(after[2]).toBe(before[2]);
        expect(after[3]).toBe(before[3]);
      } finally {
        x.dispose();
        model.dispose();
      }
    }
  });

  it('reports the instability signals with the right shapes and ranges, and leaks no tensors', () => {
    const model = createTransformer(spec({ ffn: 'moe', moe: { ...TRANSFORMER_DEFAULTS.moe, experts: 4, expertHidden: 8 } }), V, new Rng(7));
    const x = tokens(2, 5, 5);
    try {
      tf.tidy(() => void model.forward(x)); // creates and keeps the causal mask for this length
      const before = tf.memory().numTensors;
      const values = tf.tidy(() => {
        const { stats, output } = model.forward(x);
        expect(output.shape).toEqual([10, V]);
        return Object.fromEntries(Object.entries(stats!).map(([k, t]) => [k, Float32Array.from(t.dataSync())]));
      });
      expect(tf.memory().numTensors).toBe(before);
      expect(values['attnLogitMax']).toHaveLength(2 * 2);
      const d = model.describeStats!(values) as Record<string, number & number[] & number[][]>;
      expect(d['maxAttnLogitPerLayer']).toHaveLength(2);
      expect(d['maxAttnLogit']).toBe(Math.max(...d['maxAttnLogitPerLayer']));
      // Mean row entropy lies between 0 and log(t) (row i has i + 1 unmasked positions).
      expect(d['minAttnEntropy']).toBeGreaterThanOrEqual(0);
      expect(d['minAttnEntropy']).toBeLessThanOrEqual(Math.log(5));
      expect(d['outputLogitMax']).toBeGreaterThan(0);
      expect(d['expertLoad']).toHaveLength(2);
      for (const row of d['expertLoad']) expect(row.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 5);
      expect(d['maxVio']).toBe(Math.max(...d['maxVioPerLayer']));
    } finally {
      x.dispose();
      model.dispose();
    }
  });

  it('gives Muon the attention and FFN matrices and expert banks, AdamW the rest (Keller\'s rule)', () => {
    const model = createTransformer(spec({ ffn: 'moe', qkNorm: true }), V, new Rng(8));
    try {
      const byRole = (role: string) => model.variables.filter((v) => model.roles[v.name] === role).map((v) => v.name.replace(/^[^/]+\//, ''));
      expect(byRole('hidden')).toEqual([
        'layer0/attn/wq', 'layer0/attn/wk', 'layer0/attn/wv', 'layer0/attn/wo', 'layer0/moe/experts/w1', 'layer0/moe/experts/w2',
        'layer1/attn/wq', 'layer1/attn/wk', 'layer1/attn/wv', 'layer1/attn/wo', 'layer1/moe/experts/w1', 'layer1/moe/experts/w2',
      ]);
      expect(byRole('embedding')).toEqual(['E', 'P']);
      expect(byRole('head')).toEqual(['wout']);
      expect(byRole('router')).toEqual(['layer0/moe/router/kernel', 'layer1/moe/router/kernel']);
      expect(byRole('gain')).toHaveLength(2 * 4 + 1);
    } finally {
      model.dispose();
    }
  });
});
