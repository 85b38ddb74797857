/**
 * Gradient transformations: small, named, composable steps in the style of optax. Each maps an
 * incoming update `u` (at first the gradient) to an outgoing one and may keep per-parameter state
 * slots. An optimizer is a chain of them per parameter group; the group's learning rate is applied
 * last by ComposedOptimizer (θ ← θ − lr·u), so "decoupled" decay is just `addDecayedWeights`
 * placed after the adaptive step.
 *
 * Layout: tfjs kernels are [fan_in, fan_out] (docs/references.md#muon "layout trap"); expert banks are
 * [E, fan_in, fan_out]; rank ≥ 4 (conv) kernels are viewed as [prod(leading), fan_out].
 */
import { tf } from '../tf.js';
import { zeropowerViaNewtonSchulz, type NewtonSchulzOptions, type NsPrecision } from './newton_schulz.js';
import { roundToFormat } from '../precision/round.js';

export interface ParamInfo {
  readonly name: string;
  readonly shape: readonly number[];
}

/** One piece of optimizer state: read its current value, write its next one. */
export interface StateSlot {
  read(): tf.Tensor;
  write(value: tf.Tensor): void;
}

export interface UpdateContext {
  readonly param: ParamInfo;
  /** The parameter's value before this step. */
  readonly value: tf.Tensor;
  /** 1-based step count (torch's `state['step']` after its increment). */
  readonly step: number;
  /** This transform's own state slot, created as zeros of the shape it declared. */
  slot(name: string): StateSlot;
  /**
   * Present when the optimizer collects per-step signals: report how many of the parameter's
   * coordinates meet a condition (a scalar count, read back with the step's other numbers). A
   * transform reports without changing its output.
   */
  count?(signal: StepSignalName, coordinates: tf.Scalar): void;
}

/** Per-step signals a transform can count (see UpdateContext.count). */
export type StepSignalName = 'smallGradShare';

/**
 * The fraction f of the signal 'smallGradShare': Adam coordinates whose squared gradient is below
 * f·v̂. Bai et al. 2025 (docs/references.md#adam-spikes) trace Adam's loss spikes to v̂ decaying
 * while g² sits far below it; a share near 1 means most of the step size is set by a stale v̂.
 */
export const SMALL_GRAD_FRACTION = 0.01;

export interface GradientTransformation {
  readonly name: string;
  /** State this transform keeps for one parameter: slot name → shape. */
  slots(param: ParamInfo): Record<string, readonly number[]>;
  update(u: tf.Tensor, ctx: UpdateContext): tf.Tensor;
}

/** Apply transforms in order. Slot names must be unique across the chain. */
export function chain(...transforms: GradientTransformation[]): GradientTransformation {
  return {
    name: transforms.map((t) => t.name).join('→'),
    slots(param) {
      const all: Record<string, readonly number[]> = {};
      for (const t of transforms) {
        for (const [k, shape] of Object.entries(t.slots(param))) {
          if (k in all) throw new Error(`chain: two transforms declare the state slot "${k}"`);
          all[k] = shape;
        }
      }
      return all;
    },
    update(u, ctx) {
      return transforms.reduce((acc, t) => t.update(acc, ctx), u);
    },
  };
}

/** The matrix view of a parameter: [fanIn, fanOut] per matrix, with a batch of `experts` matrices. */
export function matrixView(shape: readonly number[]): { experts: number; fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`a matrix view needs rank ≥ 2, got shape [${shape}]`);
  const fanOut = shape[shape.length - 1]!;
  if (shape.length === 3) return { experts: shape[0]!, fanIn: shape[1]!, fanOut };
  const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return { experts: 1, fanIn, fanOut };
}

// ---------------------------------------------------------------- momentum

/** torch.lerp: a + w·(b − a), three ops where β·a + (1−β)·b takes four. */
function lerp(a: tf.Tensor, b: tf.Tensor, weight: number): tf.Tensor {
  return tf.add(a, tf.mul(tf.sub(b, a), weight));
}

/**
 * Keller's Muon momentum, a lerp: m ← β·m + (1−β)·u. With Nesterov the output is
 * (1−β)·u + β·m (torch `grad.lerp_(m, β)`), else m.
 */
export function emaMomentum(beta: number, nesterov: boolean): GradientTransformation {
  return {
    name: 'emaMomentum',
    slots: (p) => ({ momentum: p.shape }),
    update(u, ctx) {
      const buf = ctx.slot('momentum');
      const m = lerp(buf.read(), u, 1 - beta);
      buf.write(m);
      // torch `grad.lerp_(m, β)`: (1−β)·u + β·m.
      return nesterov ? lerp(u, m, beta) : m;
    },
  };
}

/**
 * Heavy-ball momentum as torch.optim.SGD (dampening 0): b ← μ·b + u; out = u + μ·b with
 * Nesterov, else b. torch starts b at the first gradient, which equals μ·0 + u.
 */
export function heavyBallMomentum(momentum: number, nesterov: boolean): GradientTransformation {
  return {
    name: 'heavyBallMomentum',
    slots: (p): Record<string, readonly number[]> => (momentum === 0 ? {} : { buffer: p.shape }),
    update(u, ctx) {
      if (momentum === 0) return u;
      const buf = ctx.slot('buffer');
      const b = tf.add(tf.mul(buf.read(), momentum), u);
      buf.write(b);
      return nesterov ? tf.add(u, tf.mul(b, momentum)) : b;
    },
  };
}

// ---------------------------------------------------------------- Adam

export interface AdamMoments {
  beta1: number;
  beta2: number;
  epsilon: number;
  amsgrad: boolean;
}

/**
 * Adam's bias-corrected moment ratio as torch computes it (docs/references.md#adamw):
 * m ← lerp(m, g, 1−β₁); v ← β₂·v + (1−β₂)·g²; m̂/(√v̂ + eps) with AMSGrad using the running max
 * of the raw v. The bias corrections are folded into two scalars:
 * m̂/(√v̂ + eps) = m/(√v + eps·√bc₂) · √bc₂/bc₁.
 */
export function scaleByAdam({ beta1, beta2, epsilon, amsgrad }: AdamMoments): GradientTransformation {
  return {
    name: 'scaleByAdam',
    slots: (p): Record<string, readonly number[]> =>
      amsgrad ? { m: p.shape, v: p.shape, vMax: p.shape } : { m: p.shape, v: p.shape },
    update(u, ctx) {
      const mSlot = ctx.slot('m');
      const vSlot = ctx.slot('v');
      const m = lerp(mSlot.read(), u, 1 - beta1);
      let v: tf.Tensor = tf.add(tf.mul(vSlot.read(), beta2), tf.mul(tf.square(u), 1 - beta2));
      mSlot.write(m);
      vSlot.write(v);
      if (amsgrad) {
        const vMaxSlot = ctx.slot('vMax');
        v = tf.maximum(vMaxSlot.read(), v);
        vMaxSlot.write(v);
      }
      const sqrtBc2 = Math.sqrt(1 - beta2 ** ctx.step);
      const bc1 = 1 - beta1 ** ctx.step;
      // g² < f·v̂ with v̂ = v/bc₂ (the v this step divides by, after AMSGrad's max); a read-only side count.
      if (ctx.count) ctx.count('smallGradShare', tf.sum(tf.cast(tf.less(tf.square(u), tf.mul(v, SMALL_GRAD_FRACTION / sqrtBc2 ** 2)), 'float32')));
      return tf.mul(tf.div(m, tf.add(tf.sqrt(v), epsilon * sqrtBc2)), sqrtBc2 / bc1);
    },
  };
}

// ---------------------------------------------------------------- Lion

/**
 * Lion's sign of interpolated momentum (Chen et al. 2023, Algorithm 2; google/automl
 * `lion/lion_pytorch.py`; optax `scale_by_lion`): out = sign(β₁·m + (1−β₁)·u), then
 * m ← β₂·m + (1−β₂)·u. The update uses the *old* m; β₂ only drives the state.
 */
export function scaleByLion(beta1: number, beta2: number): GradientTransformation {
  return {
    name: 'scaleByLion',
    slots: (p) => ({ lionMomentum: p.shape }),
    update(u, ctx) {
      const slot = ctx.slot('lionMomentum');
      const m = slot.read();
      const direction = tf.sign(lerp(m, u, 1 - beta1));
      slot.write(lerp(m, u, 1 - beta2));
      return direction;
    },
  };
}

// ---------------------------------------------------------------- decay and scaling

/** u + wd·θ. After an adaptive step this is decoupled decay (AdamW); before it, L2 (Adam, SGD). */
export function addDecayedWeights(weightDecay: number): GradientTransformation {
  return {
    name: 'addDecayedWeights',
    slots: () => ({}),
    update: (u, ctx) => (weightDecay === 0 ? u : tf.add(u, tf.mul(ctx.value, weightDecay))),
  };
}

export function scale(factor: number): GradientTransformation {
  return { name: 'scale', slots: () => ({}), update: (u) => (factor === 1 ? u : tf.mul(u, factor)) };
}

// ---------------------------------------------------------------- Muon pieces

/** Orthogonalise each matrix of the update (rank 3: per expert; rank ≥ 4: flattened to a matrix). */
export function orthogonalize(ns: NewtonSchulzOptions): GradientTransformation {
  return {
    name: 'orthogonalize',
    slots: () => ({}),
    update(u) {
      if (u.rank <= 3) return zeropowerViaNewtonSchulz(u, ns);
      const { fanIn, fanOut } = matrixView(u.shape);
      return tf.reshape(zeropowerViaNewtonSchulz(tf.reshape(u, [fanIn, fanOut]), ns), u.shape);
    },
  };
}

export type ShapeScaleRule = 'original' | 'match_rms_adamw';

/**
 * Muon's per-matrix learning-rate factor (docs/references.md#muon), in tfjs layout:
 * 'original' (Keller): sqrt(max(1, fan_out/fan_in)) — Keller's size(-2)/size(-1) on torch's [out, in];
 * 'match_rms_adamw' (Moonlight, torch.optim.Muon): 0.2·sqrt(max(fan_in, fan_out)).
 */
export function shapeScaleFactor(shape: readonly number[], rule: ShapeScaleRule): number {
  const { fanIn, fanOut } = matrixView(shape);
  return rule === 'original' ? Math.sqrt(Math.max(1, fanOut / fanIn)) : 0.2 * Math.sqrt(Math.max(fanIn, fanOut));
}

/**
 * u · shapeScaleFactor. With precision 'bf16' the product is rounded to bf16, as Keller's in-place
 * `update *= max(1, A/B)**0.5` on the bf16 Newton–Schulz output does (a factor of 1 changes nothing).
 */
export function scaleByShape(rule: ShapeScaleRule, precision: NsPrecision = 'fp32'): GradientTransformation {
  return {
    name: 'scaleByShape',
    slots: () => ({}),
    update(u, ctx) {
      const factor = shapeScaleFactor(ctx.param.shape, rule);
      if (factor === 1) return u;
      const scaled = tf.mul(u, factor);
      return precision === 'bf16' ? roundToFormat(scaled, 'bf16') : scaled;
    },
  };
}

/**
 * NorMuon's neuron-wise normalisation after orthogonalisation (docs/references.md#muon): a per-output-neuron
 * EMA of the mean squared update, divide by its root, then rescale to the incoming Frobenius norm.
 * Output neurons are the last axis in tfjs layout, so the mean runs over fan_in (axis −2).
 */
export function normalizeNeurons(beta2: number, epsilon: number): GradientTransformation {
  return {
    name: 'normalizeNeurons',
    slots: (p) => {
      const { experts, fanOut } = matrixView(p.shape);
      return { neuronSecondMoment: p.shape.length === 3 ? [experts, 1, fanOut] : [1, fanOut] };
    },
    update(u, ctx) {
      const { experts, fanIn, fanOut } = matrixView(ctx.param.shape);
      const bank = ctx.param.shape.length === 3;
      const x = tf.reshape(u, bank ? [experts, fanIn, fanOut] : [fanIn, fanOut]);
      const vSlot = ctx.slot('neuronSecondMoment');
      const v = tf.add(tf.mul(vSlot.read(), beta2), tf.mul(tf.mean(tf.square(x), -2, true), 1 - beta2));
      vSlot.write(v);
      const normalized = tf.div(x, tf.add(tf.sqrt(v), epsilon));
      const axes = [-2, -1];
      const before = tf.sqrt(tf.sum(tf.square(x), axes, true));
      const after = tf.sqrt(tf.sum(tf.square(normalized), axes, true));
      return tf.reshape(tf.mul(normalized, tf.div(before, tf.add(after, epsilon))), ctx.param.shape as number[]);
    },
  };
}
