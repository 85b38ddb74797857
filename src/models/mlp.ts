/** A multilayer perceptron of configurable widths and activation, as plain tfjs variables. */
import { tf } from '../tf.js';
import type { Rng } from '../data/rng.js';
import { registerGradients } from '../ops.js';
import { FP32, linear, type PrecisionSpec } from '../precision/qat.js';
import { uniformFanIn, uniqueScope } from './init.js';
import { activate, type Activation } from './activation.js';
import type { Model, ParamRole } from './model.js';

export interface MlpSpec {
  readonly kind: 'mlp';
  /** Hidden widths, e.g. [256]. */
  readonly hidden: readonly number[];
  readonly activation: Activation;
}

/** `precision`: the matmuls' operand formats (quantisation-aware training, src/precision/qat.ts); biases stay float32. */
export function createMlp(spec: MlpSpec, inputDim: number, outputDim: number, rng: Rng, precision: PrecisionSpec = FP32): Model {
  registerGradients();
  const scope = uniqueScope('mlp');
  const widths = [inputDim, ...spec.hidden, outputDim];
  const layers: { kernel: tf.Variable; bias: tf.Variable }[] = [];
  const roles: Record<string, ParamRole> = {};
  for (let i = 0; i + 1 < widths.length; i++) {
    const isHead = i + 2 === widths.length;
    const layerName = isHead ? 'head' : `hidden${i}`;
    const [fanIn, fanOut] = [widths[i]!, widths[i + 1]!];
    const kernel = uniformFanIn(rng, [fanIn, fanOut], fanIn, `${scope}/${layerName}/kernel`);
    const bias = uniformFanIn(rng, [fanOut], fanIn, `${scope}/${layerName}/bias`);
    roles[kernel.name] = isHead ? 'head' : 'hidden';
    roles[bias.name] = 'bias';
    layers.push({ kernel, bias });
  }
  return {
    kind: 'mlp',
    variables: layers.flatMap((l) => [l.kernel, l.bias]),
    roles,
    forward(x) {
      let h: tf.Tensor = x;
      layers.forEach((l, i) => {
        h = tf.add(linear(h, l.kernel, precision), l.bias);
        if (i + 1 < layers.length) h = activate(h, spec.activation);
      });
      return { output: h as tf.Tensor2D };
    },
    dispose() {
      for (const l of layers) {
        l.kernel.dispose();
        l.bias.dispose();
      }
    },
  };
}
