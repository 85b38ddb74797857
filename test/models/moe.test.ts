/**
 * The tiny MoE layer (docs/references.md#moe): gradient flow to router and experts, the registered TopK
 * gradient, gate renormalisation, Switch balancing, DeepSeek-V3 bias balancing and the z-loss.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { Rng } from '../../src/data/rng.js';
import { registerGradients } from '../../src/ops.js';
import { createMoe, loadBalanceStats, MOE_DEFAULTS, type MoeSpec } from '../../src/models/moe.js';
import type { Model } from '../../src/models/model.js';
import { tf } from '../../src/tf.js';

beforeAll(async () => {
  await initBackend();
  registerGradients();
});

function spec(over: Partial<MoeSpec> = {}): MoeSpec {
  return { ...MOE_DEFAULTS, kind: 'moe', experts: 4, topK: 2, expertHidden: 8, ...over };
}

interface Vars {
  router: tf.Variable;
  w1: tf.Variable;
  b1: tf.Variable;
  w2: tf.Variable;
  b2: tf.Variable;
}

function vars(model: Model): Vars {
  const [router, w1, b1, w2, b2] = model.variables as tf.Variable[];
  return { router: router!, w1: w1!, b1: b1!, w2: w2!, b2: b2! };
}

function selectionBias(model: Model): tf.Variable | undefined {
  const prefix = vars(model).router.name.replace(/\/router\/kernel$/, '');
  return tf.engine().registeredVariables[`${prefix}/router/selection_bias`] as tf.Variable | undefined;
}

/** [rows, cols] row-major normals from a seeded generator, optionally shifted. */
function normals(seed: number, rows: number, cols: number, shift = 0, std = 1): Float32Array {
  const a = new Rng(seed).normals(rows * cols, std);
  for (let i = 0; i < a.length; i++) a[i]! += shift;
  return a;
}

function rows(data: ArrayLike<number>, n: number, width: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: width }, (_, j) => data[i * width + j]!));
}

/** logits = x·router, in float64. */
function handLogits(x: number[][], router: number[][]): number[][] {
  const E = router[0]!.length;
  return x.map((xi) => Array.from({ length: E }, (_, e) => xi.reduce((a, v, i) => a + v * router[i]![e]!, 0)));
}

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const ex = z.map((v) => Math.exp(v - m));
  const s = ex.reduce((a, b) => a + b, 0);
  return ex.map((v) => v / s);
}

function logSumExp(z: number[]): number {
  const m = Math.max(...z);
  return m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
}

/** Indices of the k largest entries. */
function topIndices(z: number[], k: number): number[] {
  return z
    .map((v, i) => [v, i] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, k)
    .map(([, i]) => i);
}

function statsOf(model: Model, x: tf.Tensor2D): { maxVio: number; loadCv: number; load: number[]; dead: number } {
  return tf.tidy(() => {
    const { stats } = model.forward(x);
    const load = Array.from(stats!['expertLoad']!.dataSync());
    const { maxVio, loadCv, deadExperts } = loadBalanceStats(load);
    return { maxVio, loadCv, load, dead: deadExperts };
  });
}

/** Per-expert Σ|g| over an expert bank's gradient ([E, ...]). */
function perExpertAbs(g: tf.Tensor): number[] {
  return tf.tidy(() => Array.from(tf.sum(tf.abs(g), g.shape.slice(1).map((_, i) => i + 1)).dataSync()));
}

describe('MoE gradients', () => {
  const B = 64;
  const D = 8;
  const OUT = 3;

  function gradsOf(model: Model, x: tf.Tensor2D, y: tf.Tensor2D, withAux = true) {
    let load: number[] = [];
    const { grads, value } = tf.variableGrads(() => {
      const out = model.forward(x);
      load = Array.from(out.stats!['expertLoad']!.dataSync());
      const task = tf.losses.meanSquaredError(y, out.output) as tf.Scalar;
      return withAux && out.auxLoss ? tf.add(task, out.auxLoss) : task;
    }, model.variables as tf.Variable[]);
    value.dispose();
    return { grads, load };
  }

  it('reaches the router and every expert that receives tokens', () => {
    const model = createMoe(spec(), D, OUT, new Rng(1));
    const v = vars(model);
    const x = tf.tensor2d(normals(2, B, D), [B, D]);
    const y = tf.tensor2d(normals(3, B, OUT), [B, OUT]);
    const { grads, load } = gradsOf(model, x, y);
    expect(load.every((l) => l > 0)).toBe(true); // the batch reaches every expert
    const routerNorm = tf.tidy(() => tf.norm(grads[v.router.name]!).dataSync()[0]!);
    expect(routerNorm).toBeGreaterThan(1e-4);
    for (const name of [v.w1.name, v.b1.name, v.w2.name, v.b2.name]) {
      const per = perExpertAbs(grads[name]!);
      expect(per).toHaveLength(4);
      for (const s of per) expect(s).toBeGreaterThan(1e-6);
    }
    tf.dispose([x, y, ...Object.values(grads)]);
    model.dispose();
  });

  it('gives an expert zero gradient exactly when it received no tokens', () => {
    const model = createMoe(spec(), D, OUT, new Rng(4));
    const v = vars(model);
    // Positive inputs and a strongly negative router column: expert 3 is never in the top 2.
    const xs = normals(5, B, D).map((a) => Math.abs(a) + 0.2);
    const r = rows(v.router.dataSync(), D, 4).map((row) => [row[0]!, row[1]!, row[2]!, -2]);
    v.router.assign(tf.tensor2d(r));
    const x = tf.tensor2d(xs, [B, D]);
    const y = tf.tensor2d(normals(6, B, OUT), [B, OUT]);
    const { grads, load } = gradsOf(model, x, y);
    expect(load[3]).toBe(0);
    expect(load.slice(0, 3).every((l) => l > 0)).toBe(true);
    for (const name of [v.w1.name, v.b1.name, v.w2.name, v.b2.name]) {
      const per = perExpertAbs(grads[name]!);
      per.forEach((s, e) => {
        if (load[e]! > 0) expect(s, `${name} expert ${e}`).toBeGreaterThan(1e-6);
        else expect(s, `${name} expert ${e}`).toBe(0);
      });
    }
    tf.dispose([x, y, ...Object.values(grads)]);
    model.dispose();
  });

  for (const topK of [1, 2] as const) {
    it(`top-${topK}: the task loss alone trains the router (not only the auxiliary losses)`, () => {
      const model = createMoe(spec({ topK, balanceCoef: 0, zLossCoef: 0 }), D, OUT, new Rng(7));
      const v = vars(model);
      const x = tf.tensor2d(normals(8, B, D), [B, D]);
      const y = tf.tensor2d(normals(9, B, OUT), [B, OUT]);
      const { grads } = gradsOf(model, x, y, false);
      const routerNorm = tf.tidy(() => tf.norm(grads[v.router.name]!).dataSync()[0]!);
      expect(routerNorm).toBeGreaterThan(1e-4);
      tf.dispose([x, y, ...Object.values(grads)]);
      model.dispose();
    });
  }
});

describe('TopK gradient', () => {
  /** f(x) = Σ w ⊙ topk(x).values², a smooth function of the selected values. */
  const f = (w: tf.Tensor, k: number) => (x: tf.Tensor) => tf.sum(tf.mul(w, tf.square(tf.topk(x, k).values)));

  for (const shape of [[7], [3, 6]] as const) {
    it(`matches central finite differences on shape [${shape.join(', ')}]`, () => {
      const k = 3;
      const n = shape.reduce((a, b) => a * b, 1);
      const xv = normals(11, 1, n);
      const x = tf.tensor(xv, [...shape]);
      const w = tf.tensor(normals(12, 1, (n / shape[shape.length - 1]!) * k), [...shape.slice(0, -1), k]);
      const g = tf.grad(f(w, k))(x);
      const analytic = g.dataSync();
      const h = 1e-2;
      const fd = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const plus = Float32Array.from(xv);
        const minus = Float32Array.from(xv);
        plus[i]! += h;
        minus[i]! -= h;
        const fp = tf.tidy(() => f(w, k)(tf.tensor(plus, [...shape])).dataSync()[0]!);
        const fm = tf.tidy(() => f(w, k)(tf.tensor(minus, [...shape])).dataSync()[0]!);
        fd[i] = (fp - fm) / (2 * h);
      }
      let nonZero = 0;
      for (let i = 0; i < n; i++) {
        expect(analytic[i]!).toBeCloseTo(fd[i]!, 2);
        if (analytic[i] !== 0) nonZero++;
      }
      // Exactly k positions per row receive gradient; the rest get exactly zero.
      expect(nonZero).toBe((n / shape[shape.length - 1]!) * k);
      tf.dispose([x, w, g]);
    });
  }
});

describe('gates', () => {
  const B = 32;
  const E = 4;
  const D = 6;

  /**
   * With w2 = 0 and b2 = I (outputDim = E), expert e outputs the one-hot vector e, so the layer's
   * output row is exactly that token's gate vector.
   */
  function gatesOf(model: Model, x: tf.Tensor2D): number[][] {
    const v = vars(model);
    v.w2.assign(tf.zerosLike(v.w2));
    v.b2.assign(tf.eye(E));
    return tf.tidy(() => rows(model.forward(x).output.dataSync(), B, E));
  }

  it('top-2 gates are the two largest router probabilities, renormalised to sum to 1', () => {
    const model = createMoe(spec({ experts: E, topK: 2 }), D, E, new Rng(21));
    const xv = normals(22, B, D, 0, 2);
    const x = tf.tensor2d(xv, [B, D]);
    const gates = gatesOf(model, x);
    const probs = handLogits(rows(xv, B, D), rows(vars(model).router.dataSync(), D, E)).map(softmax);
    gates.forEach((g, b) => {
      const chosen = topIndices(probs[b]!, 2);
      const denom = chosen.reduce((a, e) => a + probs[b]![e]!, 0);
      expect(g.reduce((a, c) => a + c, 0)).toBeCloseTo(1, 5);
      expect(g.filter((c) => c !== 0)).toHaveLength(2);
      for (let e = 0; e < E; e++) {
        expect(g[e]!).toBeCloseTo(chosen.includes(e) ? probs[b]![e]! / denom : 0, 5);
      }
    });
    x.dispose();
    model.dispose();
  });

  it('top-1 gates are the raw top router probability (Switch), so the router still sees the task loss', () => {
    const model = createMoe(spec({ experts: E, topK: 1 }), D, E, new Rng(27));
    const xv = normals(28, B, D, 0, 2);
    const x = tf.tensor2d(xv, [B, D]);
    const gates = gatesOf(model, x);
    const probs = handLogits(rows(xv, B, D), rows(vars(model).router.dataSync(), D, E)).map(softmax);
    gates.forEach((g, b) => {
      const [top] = topIndices(probs[b]!, 1);
      for (let e = 0; e < E; e++) expect(g[e]!).toBeCloseTo(e === top ? probs[b]![e]! : 0, 5);
    });
    x.dispose();
    model.dispose();
  });

  it('the selection bias changes which experts are chosen, never the gate values', () => {
    const model = createMoe(spec({ experts: E, topK: 2, biasBalancing: true }), D, E, new Rng(23));
    const bias = selectionBias(model)!;
    expect(bias).toBeDefined();
    const biasValues = [0.6, -0.6, 0.3, 0];
    bias.assign(tf.tensor1d(biasValues));
    const xv = normals(24, B, D, 0, 2);
    const x = tf.tensor2d(xv, [B, D]);
    const gates = gatesOf(model, x);
    const probs = handLogits(rows(xv, B, D), rows(vars(model).router.dataSync(), D, E)).map(softmax);
    let differs = 0;
    gates.forEach((g, b) => {
      const p = probs[b]!;
      const chosen = topIndices(
        p.map((v, e) => v + biasValues[e]!),
        2,
      );
      if (topIndices(p, 2).sort().join() !== [...chosen].sort().join()) differs++;
      const denom = chosen.reduce((a, e) => a + p[e]!, 0);
      for (let e = 0; e < E; e++) expect(g[e]!).toBeCloseTo(chosen.includes(e) ? p[e]! / denom : 0, 5);
    });
    expect(differs).toBeGreaterThan(0); // the bias did change some selections
    x.dispose();
    model.dispose();
  });

  it('output = Σ gate · expert(x) for a hand-computed forward pass', () => {
    const Din = 5;
    const H = 4;
    const OUT = 3;
    const n = 6;
    const model = createMoe(spec({ experts: 3, topK: 2, expertHidden: H, activation: 'relu' }), Din, OUT, new Rng(25));
    const v = vars(model);
    const xv = normals(26, n, Din);
    const out = tf.tidy(() => rows(model.forward(tf.tensor2d(xv, [n, Din])).output.dataSync(), n, OUT));
    const X = rows(xv, n, Din);
    const router = rows(v.router.dataSync(), Din, 3);
    const w1 = v.w1.arraySync() as number[][][];
    const b1 = v.b1.arraySync() as number[][];
    const w2 = v.w2.arraySync() as number[][][];
    const b2 = v.b2.arraySync() as number[][];
    const probs = handLogits(X, router).map(softmax);
    X.forEach((xi, b) => {
      const chosen = topIndices(probs[b]!, 2);
      const denom = chosen.reduce((a, e) => a + probs[b]![e]!, 0);
      const expected = new Array<number>(OUT).fill(0);
      for (const e of chosen) {
        const h = Array.from({ length: H }, (_, j) => Math.max(0, b1[e]![j]! + xi.reduce((a, xv2, i) => a + xv2 * w1[e]![i]![j]!, 0)));
        for (let o = 0; o < OUT; o++) {
          const ye = b2[e]![o]! + h.reduce((a, hv, j) => a + hv * w2[e]![j]![o]!, 0);
          expected[o]! += (probs[b]![e]! / denom) * ye;
        }
      }
      for (let o = 0; o < OUT; o++) expect(out[b]![o]!).toBeCloseTo(expected[o]!, 4);
    });
    model.dispose();
  });
});

describe('auxiliary losses and statistics', () => {
  it('z-loss = mean(logsumexp(logits)²) and balance loss = E·Σ fᵢ·Pᵢ, combined with their coefficients', () => {
    const B = 40;
    const D = 6;
    const E = 5;
    const model = createMoe(spec({ experts: E, topK: 2, balanceCoef: 0.3, zLossCoef: 0.07 }), D, 2, new Rng(31));
    const xv = normals(32, B, D, 0, 3); // large inputs so logsumexp is far from log E
    const res = tf.tidy(() => {
      const out = model.forward(tf.tensor2d(xv, [B, D]));
      const s = out.stats!;
      const load = Array.from(s['expertLoad']!.dataSync());
      const balance = loadBalanceStats(load);
      return {
        z: s['zLoss']!.dataSync()[0]!,
        bal: s['balanceLoss']!.dataSync()[0]!,
        aux: out.auxLoss!.dataSync()[0]!,
        load,
        maxVio: balance.maxVio,
        loadCv: balance.loadCv,
        dead: balance.deadExperts,
        maxLogit: s['routerMaxLogit']!.dataSync()[0]!,
      };
    });
    const logits = handLogits(rows(xv, B, D), rows(vars(model).router.dataSync(), D, E));
    const zHand = logits.reduce((a, l) => a + logSumExp(l) ** 2, 0) / B;
    expect(zHand).toBeGreaterThan(Math.log(E) ** 2 * 1.2);
    expect(res.z).toBeCloseTo(zHand, 3);
    expect(Math.abs(res.z - zHand) / zHand).toBeLessThan(1e-4);

    const probs = logits.map(softmax);
    const counts = new Array<number>(E).fill(0);
    for (const p of probs) for (const e of topIndices(p, 2)) counts[e]! += 1;
    const f = counts.map((c) => c / (B * 2));
    const P = Array.from({ length: E }, (_, e) => probs.reduce((a, p) => a + p[e]!, 0) / B);
    const balHand = E * f.reduce((a, fi, i) => a + fi * P[i]!, 0);
    expect(res.load.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    res.load.forEach((l, e) => expect(l).toBeCloseTo(f[e]!, 6));
    expect(res.bal).toBeCloseTo(balHand, 4);
    expect(res.aux).toBeCloseTo(0.3 * balHand + 0.07 * zHand, 3);

    const mean = 1 / E;
    expect(res.maxVio).toBeCloseTo((Math.max(...f) - mean) / mean, 5);
    expect(res.loadCv).toBeCloseTo(Math.sqrt(f.reduce((a, fi) => a + (fi - mean) ** 2, 0) / E) / mean, 4);
    expect(res.dead).toBe(f.filter((fi) => fi === 0).length);
    expect(res.maxLogit).toBeCloseTo(Math.max(...logits.flat().map(Math.abs)), 3);
    model.dispose();
  });
});

const tailMean = (xs: readonly number[], n: number) => xs.slice(-n).reduce((a, b) => a + b, 0) / Math.min(n, xs.length);

describe('load balancing', () => {
  const B = 128;
  const D = 8;
  const E = 4;
  const OUT = 2;

  /** Inputs near +1 and a router whose first column is large: nearly every token picks expert 0. */
  function skewed(model: Model): { x: tf.Tensor2D; y: tf.Tensor2D } {
    const v = vars(model);
    const r = rows(v.router.dataSync(), D, E).map((row) => [0.25, row[1]!, row[2]!, row[3]!]);
    v.router.assign(tf.tensor2d(r));
    return {
      x: tf.tensor2d(normals(41, B, D, 1, 0.5), [B, D]),
      y: tf.tensor2d(normals(42, B, OUT), [B, OUT]),
    };
  }

  /** `steps` of plain SGD on task MSE + auxLoss over all trainable variables; returns final stats. */
  function trainSkewed(over: Partial<MoeSpec>, steps: number) {
    const model = createMoe(spec({ experts: E, topK: 2, zLossCoef: 0, ...over }), D, OUT, new Rng(40));
    const { x, y } = skewed(model);
    const initial = statsOf(model, x);
    let biasGradSeen: unknown = 'unset';
    const trace: number[] = [];
    for (let s = 0; s < steps; s++) {
      tf.tidy(() => {
        let stats: Record<string, tf.Tensor> = {};
        const bias = selectionBias(model);
        const list = bias ? [...(model.variables as tf.Variable[]), bias] : (model.variables as tf.Variable[]);
        const { grads } = tf.variableGrads(() => {
          const out = model.forward(x);
          stats = Object.fromEntries(Object.entries(out.stats!).map(([k, t]) => [k, tf.keep(t)]));
          const task = tf.losses.meanSquaredError(y, out.output) as tf.Scalar;
          return out.auxLoss ? tf.add(task, out.auxLoss) : task;
        }, list);
        if (bias) biasGradSeen = grads[bias.name];
        for (const v of model.variables as tf.Variable[]) v.assign(tf.sub(v, tf.mul(grads[v.name]!, 0.1)));
        model.afterStep?.(stats);
        trace.push(loadBalanceStats(Array.from(stats['expertLoad']!.dataSync())).maxVio);
        tf.dispose(Object.values(stats));
      });
    }
    const final = statsOf(model, x);
    const biasValues = selectionBias(model) ? Array.from(selectionBias(model)!.dataSync()) : undefined;
    tf.dispose([x, y]);
    model.dispose();
    return { initial, final, biasGradSeen, biasValues, trace };
  }

  it('Switch balancing (large balanceCoef) evens out a skewed router; balanceCoef 0 does not', () => {
    const off = trainSkewed({ balanceCoef: 0 }, 60);
    const on = trainSkewed({ balanceCoef: 1 }, 60);
    // Both start from the same skew: expert 0 takes half of all top-2 slots.
    expect(on.initial.maxVio).toBeCloseTo(off.initial.maxVio, 6);
    expect(on.initial.maxVio).toBeGreaterThan(0.9);
    expect(on.final.maxVio).toBeLessThan(0.5 * off.final.maxVio);
    expect(on.final.loadCv).toBeLessThan(0.5 * off.final.loadCv);
    expect(on.final.maxVio).toBeLessThan(on.initial.maxVio);
  });

  it('DeepSeek bias balancing evens out the load without any gradient to the non-trainable bias', () => {
    const rate = 0.01;
    const off = trainSkewed({ balanceCoef: 0, biasBalancing: false, biasUpdateRate: rate }, 80);
    const on = trainSkewed({ balanceCoef: 0, biasBalancing: true, biasUpdateRate: rate }, 80);
    expect(on.initial.maxVio).toBeCloseTo(off.initial.maxVio, 6);
    expect(on.initial.maxVio).toBeGreaterThan(0.9);
    // Sign updates with a fixed γ oscillate around balance: judge the mean over the last 20 steps.
    expect(tailMean(on.trace, 20)).toBeLessThan(0.5 * tailMean(off.trace, 20));
    expect(tailMean(off.trace, 20)).toBeGreaterThan(0.9);
    // The over-loaded expert's bias went down, the others' up, in steps of γ.
    const b = on.biasValues!;
    expect(b[0]!).toBeLessThan(0);
    for (const v of b) expect(Math.abs(Math.round(v / rate) * rate - v)).toBeLessThan(1e-4);
    // variableGrads returns null for a non-trainable variable: the bias is never on the tape.
    expect(on.biasGradSeen).toBeNull();
  });

  it('the bias is a non-trainable variable outside model.variables, updated by γ·sign(mean − load)', () => {
    const model = createMoe(spec({ experts: E, topK: 2, biasBalancing: true, biasUpdateRate: 0.01 }), D, OUT, new Rng(43));
    const bias = selectionBias(model)!;
    expect(bias.trainable).toBe(false);
    expect(model.variables).not.toContain(bias);
    const { x, y } = skewed(model);
    const load = tf.tidy(() => {
      const out = model.forward(x);
      const l = Array.from(out.stats!['expertLoad']!.dataSync());
      model.afterStep!(out.stats!);
      return l;
    });
    const after = Array.from(bias.dataSync());
    after.forEach((b, e) => expect(b).toBeCloseTo(0.01 * Math.sign(1 / E - load[e]!), 7));
    tf.dispose([x, y]);
    model.dispose();
    expect(bias.isDisposed).toBe(true);
  });
});
