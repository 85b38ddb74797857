/**
 * Quantisation-aware training: presets, the straight-through gradient (the gradient of a
 * quantised matmul is the float32 gradient at the quantised point), models that quantise every
 * matmul while their master weights stay float32, and low-precision runs that are deterministic
 * and differ from float32 runs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { Rng } from '../../src/data/rng.js';
import { createMlp } from '../../src/models/mlp.js';
import { createMoe, MOE_DEFAULTS } from '../../src/models/moe.js';
import {
  PRECISION_PRESETS,
  linear,
  parsePrecision,
  precisionLabel,
  quantizeActivation,
  quantizeWeight,
  type PrecisionSpec,
} from '../../src/precision/qat.js';
import { quantizeMxfp4, quantizeScaled, roundToFormat } from '../../src/precision/round.js';
import { tf } from '../../src/tf.js';
import { expandRuns, SpecError } from '../../src/train/config.js';
import { train, type StepRecord } from '../../src/train/loop.js';
import { runDirName } from '../../src/train/run.js';
import { oneRun, tinyLm, tinyMlp, tinyMoe } from '../train/fixtures.js';

beforeAll(async () => {
  await initBackend();
});

const LOW: [string, PrecisionSpec][] = [
  ['bf16', PRECISION_PRESETS.bf16],
  ['fp8', PRECISION_PRESETS.fp8],
  ['fp4', PRECISION_PRESETS.fp4],
  ['w-fp8_a-bf16', { weights: 'fp8', activations: 'bf16' }],
];

const values = (t: tf.Tensor) => Array.from(t.dataSync());

describe('precision presets and parsing', () => {
  it('fp4 is MXFP4 weights with FP8 activations (the seed recipe); presets round-trip through their labels', () => {
    expect(PRECISION_PRESETS.fp4).toEqual({ weights: 'mxfp4', activations: 'fp8' });
    for (const [name, spec] of Object.entries(PRECISION_PRESETS)) {
      expect(parsePrecision(name)).toEqual(spec);
      expect(precisionLabel(spec)).toBe(name);
    }
    expect(precisionLabel({ weights: 'fp8', activations: 'bf16' })).toBe('w-fp8_a-bf16');
    expect(parsePrecision({ weights: 'mxfp4', activations: 'bf16' })).toEqual({ weights: 'mxfp4', activations: 'bf16' });
    for (const bad of ['fp16', { weights: 'mxfp4', activations: 'mxfp4' }, { weights: 'fp8' }, { weights: 'fp8', activations: 'fp8', x: 1 }, 3, null]) {
      expect(parsePrecision(bad)).toBeUndefined();
    }
  });

  it('a spec and --precision set every run’s precision; bad values fail with one line naming the field', () => {
    expect(expandRuns(tinyMlp)[0]!.precision).toEqual(PRECISION_PRESETS.fp32);
    expect(expandRuns({ ...tinyMlp, precision: 'fp8' })[0]!.precision).toEqual(PRECISION_PRESETS.fp8);
    expect(expandRuns({ ...tinyMlp, precision: 'fp8' }, { precision: 'fp4' })[0]!.precision).toEqual(PRECISION_PRESETS.fp4);
    expect(() => expandRuns(tinyMlp, { precision: 'fp16' })).toThrow(SpecError);
    expect(() => expandRuns(tinyMlp, { precision: 'fp16' })).toThrow('--precision "fp16": expected one of fp32, bf16, fp8, fp4');
    expect(() => expandRuns({ ...tinyMlp, precision: { weights: 'e4m3' } as unknown as PrecisionSpec })).toThrow(
      /experiment "tiny-mlp": precision = \{"weights":"e4m3"\}: expected a preset/,
    );
  });

  it('low-precision runs get their own folder; fp32 folders keep their old names', () => {
    expect(runDirName(oneRun(tinyMlp, 'muon'))).toBe('tiny-mlp__muon__s0');
    expect(runDirName(oneRun(tinyMlp, 'muon', 0, { precision: 'fp4' }))).toBe('tiny-mlp__muon@fp4__s0');
  });
});

describe('straight-through quantised matmul', () => {
  let x: tf.Tensor2D;
  let w: tf.Tensor2D;
  let r: tf.Tensor2D;
  beforeAll(() => {
    const rng = new Rng(3);
    x = tf.tensor2d(rng.normals(16 * 40), [16, 40]);
    w = tf.tensor2d(rng.normals(40 * 12, 0.2), [40, 12]);
    r = tf.tensor2d(rng.normals(16 * 12), [16, 12]);
  });

  for (const [label, precision] of LOW) {
    it(`${label}: forward uses quantised operands; gradients are the float32 gradients at the quantised point`, () => {
      const qx = tf.tidy(() => quantizeActivation(x, precision));
      const qw = tf.tidy(() => quantizeWeight(w, precision, 0));
      // The operands really are quantised (and the activation one as its preset says).
      const wantQx = precision.activations === 'bf16' ? roundToFormat(x, 'bf16') : quantizeScaled(x, 'e4m3');
      expect(values(qx)).toEqual(values(wantQx));
      const wantQw =
        precision.weights === 'mxfp4' ? quantizeMxfp4(w, 0) : precision.weights === 'bf16' ? roundToFormat(w, 'bf16') : quantizeScaled(w, 'e4m3');
      expect(values(qw)).toEqual(values(wantQw));
      expect(values(qw)).not.toEqual(values(w));

      const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(linear(a, b, precision), r));
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => loss(a, b))([x, w]);
      // The float32 gradient of Σ r ⊙ (A·B) at A = Q(x), B = Q(w): r·Q(w)ᵀ and Q(x)ᵀ·r.
      const [ex, ew] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, b), r)))([qx, qw]);
      expect(values(gx!)).toEqual(values(ex!));
      expect(values(gw!)).toEqual(values(ew!));
      // …which is not the float32 gradient at the unquantised point.
      expect(values(gw!)).not.toEqual(values(tf.matMul(x, r, true, false)));
      tf.dispose([qx, qw, wantQx, wantQw, gx!, gw!, ex!, ew!]);
    });
  }

  it('fp32 is plain float32: no quantisation, no extra tensors', () => {
    const want = tf.matMul(x, w);
    const before = tf.memory().numTensors;
    const y = linear(x, w, PRECISION_PRESETS.fp32);
    expect(tf.memory().numTensors).toBe(before + 1); // the product alone
    expect(values(y)).toEqual(values(want));
    tf.dispose([y, want]);
  });
});

describe('models under quantisation-aware training', () => {
  it('MLP: every layer’s matmul takes quantised activations and weights; biases and master weights stay float32', () => {
    const precision = PRECISION_PRESETS.fp8;
    const model = createMlp({ kind: 'mlp', hidden: [24], activation: 'relu' }, 40, 10, new Rng(1), precision);
    const x = tf.tensor2d(new Rng(2).normals(8 * 40), [8, 40]);
    const [k1, b1, k2, b2] = model.variables;
    const manual = tf.tidy(() => {
      const h = tf.relu(tf.add(tf.matMul(quantizeScaled(x), quantizeScaled(k1!)), b1!));
      return tf.add(tf.matMul(quantizeScaled(h), quantizeScaled(k2!)), b2!);
    });
    const out = tf.tidy(() => model.forward(x as tf.Tensor2D).output);
    expect(values(out)).toEqual(values(manual));
    // Master weights are not on the FP8 grid (the quantisation is applied per forward pass).
    expect(values(k1!)).not.toEqual(values(tf.tidy(() => quantizeScaled(k1!))));
    tf.dispose([x, manual, out]);
    model.dispose();
  });

  it('MoE: fp4 quantises router and expert banks (MXFP4 blocks along fan_in), gradients reach every bank', () => {
    const spec = { ...MOE_DEFAULTS, kind: 'moe' as const, experts: 4, expertHidden: 8 };
    const rngSeed = 5;
    const full = createMoe(spec, 40, 3, new Rng(rngSeed));
    const low = createMoe(spec, 40, 3, new Rng(rngSeed), PRECISION_PRESETS.fp4);
    const x = tf.tensor2d(new Rng(6).normals(16 * 40), [16, 40]);
    const outFull = tf.tidy(() => full.forward(x as tf.Tensor2D).output);
    const outLow = tf.tidy(() => low.forward(x as tf.Tensor2D).output);
    expect(values(outLow)).not.toEqual(values(outFull));
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(low.forward(x as tf.Tensor2D).output)) as tf.Scalar, low.variables as tf.Variable[]);
    for (const v of low.variables) {
      const g = values(grads[v.name]!);
      expect(g.every(Number.isFinite), v.name).toBe(true);
      expect(g.some((e) => e !== 0), v.name).toBe(true);
    }
    tf.dispose([x, outFull, outLow, value, ...Object.values(grads)]);
    full.dispose();
    low.dispose();
  });
});

describe('low-precision training runs', () => {
  const timeless = (recs: StepRecord[]) => recs.map(({ ms: _ms, ...rest }) => rest);
  async function records(config: Parameters<typeof train>[0]) {
    const recs: StepRecord[] = [];
    await train(config, { onRecord: (r) => recs.push(r) });
    return recs;
  }

  for (const [spec, label, preset] of [
    [tinyMlp, 'muon', 'fp8'],
    [tinyMlp, 'adamw', 'fp4'],
    [tinyMoe, 'muon', 'fp4'],
    [tinyMoe, 'adamw', 'bf16'],
    // The transformer LM: attention projections, FFN/experts and the output head through project().
    [tinyLm, 'muon', 'fp4'],
    [tinyLm, 'adamw', 'fp8'],
  ] as const) {
    it(`${spec.name} ${label} --precision ${preset}: deterministic, finite, and differs from the fp32 run`, async () => {
      const low = oneRun(spec, label, 0, { steps: 12, precision: preset });
      const a = await records(low);
      const b = await records(low);
      const full = await records(oneRun(spec, label, 0, { steps: 12 }));
      expect(timeless(b)).toEqual(timeless(a));
      expect(a.every((r) => Number.isFinite(r.loss))).toBe(true);
      expect(a.map((r) => r.loss)).not.toEqual(full.map((r) => r.loss));
      // Same initialisation: the first losses are close, not equal (quantisation changes the forward).
      expect(Math.abs(a[0]!.loss - full[0]!.loss)).toBeLessThan(0.2 * full[0]!.loss);
    });
  }

  it('leaks no tensors over a low-precision run', async () => {
    const before = tf.memory().numTensors;
    const samples: Record<number, number> = {};
    await train(oneRun(tinyMoe, 'muon', 0, { steps: 20, precision: 'fp4' }), {
      onRecord: (r) => {
        if (r.step === 5 || r.step === 20) samples[r.step] = tf.memory().numTensors;
      },
    });
    expect(samples[20]).toBe(samples[5]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
