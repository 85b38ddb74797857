/**
 * Quantisation-aware training (docs/references.md#number-formats): the forward pass feeds every activation × weight
 * matmul quantised operands; the backward pass treats quantisation as the identity (the
 * straight-through estimator), so each gradient is the float32 gradient taken at the quantised
 * point; master weights and optimizer state stay float32. The quantised values are float32
 * tensors holding representable values, and matmuls accumulate in float32.
 *
 * Models route their matmuls through `linear` (or `quantizeWeight` / `quantizeActivation` where a
 * weight is rearranged before its matmul), so a new model gets every precision by doing the same.
 */
import { tf } from '../tf.js';
import { matMul } from '../ops.js';
import { quantizeMxfp4, quantizeScaled, roundToFormat } from './round.js';

const WEIGHT_PRECISIONS = ['fp32', 'bf16', 'fp8', 'mxfp4'] as const;
const ACTIVATION_PRECISIONS = ['fp32', 'bf16', 'fp8'] as const;
export type WeightPrecision = (typeof WEIGHT_PRECISIONS)[number];
export type ActivationPrecision = (typeof ACTIVATION_PRECISIONS)[number];

export interface PrecisionSpec {
  readonly weights: WeightPrecision;
  readonly activations: ActivationPrecision;
}

export const PRECISION_PRESETS = {
  fp32: { weights: 'fp32', activations: 'fp32' },
  bf16: { weights: 'bf16', activations: 'bf16' },
  // FP8 E4M3 with per-tensor amax scaling for both operands.
  fp8: { weights: 'fp8', activations: 'fp8' },
  // The seed's recipe: MXFP4 weights, FP8 E4M3 activations.
  fp4: { weights: 'mxfp4', activations: 'fp8' },
} as const satisfies Record<string, PrecisionSpec>;
export type PrecisionPreset = keyof typeof PRECISION_PRESETS;
export const PRECISION_PRESET_NAMES = Object.keys(PRECISION_PRESETS) as PrecisionPreset[];

export const FP32: PrecisionSpec = PRECISION_PRESETS.fp32;

/** The preset's name when the spec is one, else "w:<weights>,a:<activations>": for tables and folder names. */
export function precisionLabel(p: PrecisionSpec): string {
  const preset = PRECISION_PRESET_NAMES.find((n) => PRECISION_PRESETS[n].weights === p.weights && PRECISION_PRESETS[n].activations === p.activations);
  return preset ?? `w-${p.weights}_a-${p.activations}`;
}

export const isFullPrecision = (p: PrecisionSpec): boolean => p.weights === 'fp32' && p.activations === 'fp32';

/**
 * A preset name or a {weights, activations} object → a PrecisionSpec; undefined for anything else
 * (the caller names the field in its error).
 */
export function parsePrecision(v: unknown): PrecisionSpec | undefined {
  if (typeof v === 'string') return (PRECISION_PRESET_NAMES as string[]).includes(v) ? PRECISION_PRESETS[v as PrecisionPreset] : undefined;
  if (v === null || typeof v !== 'object') return undefined;
  const { weights, activations, ...rest } = v as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return undefined;
  if (!(WEIGHT_PRECISIONS as readonly unknown[]).includes(weights)) return undefined;
  if (!(ACTIVATION_PRECISIONS as readonly unknown[]).includes(activations)) return undefined;
  return { weights: weights as WeightPrecision, activations: activations as ActivationPrecision };
}

export const PRECISION_ACCEPTS =
  `a preset (${PRECISION_PRESET_NAMES.join(', ')}) or {weights: ${WEIGHT_PRECISIONS.join('|')}, activations: ${ACTIVATION_PRECISIONS.join('|')}}`;

/** Forward q(x), backward the identity (tfjs has no stopGradient; customGrad makes one, docs/references.md#tfjs-in-node). */
function straightThrough(x: tf.Tensor, quantize: (t: tf.Tensor) => tf.Tensor): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: quantize(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => dy,
  }));
  return op(x);
}

/**
 * A weight as the forward pass sees it. `reductionAxis` is the axis the matmul sums over (a
 * [fan_in, fan_out] kernel: 0; an expert bank [E, fan_in, fan_out]: 1): MXFP4's blocks of 32 run
 * along it, as in the OCP MX GEMM. FP8 weights use one per-tensor E4M3 scale.
 */
export function quantizeWeight(w: tf.Tensor, precision: PrecisionSpec, reductionAxis: number): tf.Tensor {
  switch (precision.weights) {
    case 'fp32':
      return w;
    case 'bf16':
      return straightThrough(w, (t) => roundToFormat(t, 'bf16'));
    case 'fp8':
      return straightThrough(w, (t) => quantizeScaled(t, 'e4m3'));
    case 'mxfp4':
      return straightThrough(w, (t) => quantizeMxfp4(t, reductionAxis));
  }
}

/** An activation (a matmul's left operand) as the forward pass sees it: FP8 is E4M3, per-tensor scaled. */
export function quantizeActivation(x: tf.Tensor, precision: PrecisionSpec): tf.Tensor {
  switch (precision.activations) {
    case 'fp32':
      return x;
    case 'bf16':
      return straightThrough(x, (t) => roundToFormat(t, 'bf16'));
    case 'fp8':
      return straightThrough(x, (t) => quantizeScaled(t, 'e4m3'));
  }
}

/** x·W for activations x [batch, fan_in] and a kernel W [fan_in, fan_out], both quantised. */
export function linear(x: tf.Tensor, w: tf.Tensor, precision: PrecisionSpec): tf.Tensor {
  return matMul(quantizeActivation(x, precision), quantizeWeight(w, precision, w.rank - 2));
}
