/**
 * The elementwise activations the models share (the MLP's hidden layers, the MoE experts, the
 * transformer's dense FFN), in their own module so that no model imports another for them.
 */
import { tf } from '../tf.js';

export const ACTIVATIONS = ['relu', 'gelu', 'tanh', 'silu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  switch (activation) {
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'silu':
      return tf.mul(x, tf.sigmoid(x));
    case 'gelu':
      return geluTanh(x);
  }
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * GELU, tanh form (GPT-2; tfjs has no gelu op): 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³),
 * computed as the identical x·σ(2u) (since 1 + tanh(u) = 2σ(2u)), with its derivative written
 * out: σ + x·σ·(1 − σ)·2u′, u′ = √(2/π)·(1 + 3·0.044715·x²). On wasm, autodiff through tf.pow was
 * the slowest op of the transformer step and Tanh costs 3× Sigmoid (measured: 24 vs 8 ms CPU on
 * [2048, 256]); the results agree with the tanh form to float32 rounding.
 */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  const f = tf.customGrad((...args) => {
    const [v, save] = args as [tf.Tensor, (tensors: tf.Tensor[]) => void];
    const x2 = tf.square(v);
    const s = tf.sigmoid(tf.mul(v, tf.add(2 * GELU_C, tf.mul(x2, 2 * GELU_C * GELU_A)))); // σ(2u)
    save([v, x2, s]);
    return {
      value: tf.mul(v, s),
      gradFunc: (dy, saved) => {
        const [xs, xsq, sg] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const twoDu = tf.add(2 * GELU_C, tf.mul(xsq, 6 * GELU_C * GELU_A)); // 2u′
        const grad = tf.add(sg, tf.mul(tf.mul(xs, tf.mul(sg, tf.sub(1, sg))), twoDu));
        return tf.mul(dy as tf.Tensor, grad);
      },
    };
  });
  return f(x);
}
