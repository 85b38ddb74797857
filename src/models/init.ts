/** Seeded parameter initialisation, so the same seed gives the same model on every backend. */
import { tf } from '../tf.js';
import type { Rng } from '../data/rng.js';

let modelCounter = 0;

/** A process-unique prefix: tfjs variable names are global, and tests may hold several models. */
export function uniqueScope(kind: string): string {
  modelCounter += 1;
  return `${kind}${modelCounter}`;
}

/** torch.nn.Linear's default: U(−1/√fan_in, 1/√fan_in) for weights and biases. */
export function uniformFanIn(rng: Rng, shape: number[], fanIn: number, name: string): tf.Variable {
  const n = shape.reduce((a, b) => a * b, 1);
  const bound = 1 / Math.sqrt(fanIn);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = (2 * rng.next() - 1) * bound;
  // tf.variable shares the initial tensor's data; tidy disposes the wrapper so nothing leaks.
  return tf.tidy(() => tf.variable(tf.tensor(values, shape), true, name));
}

export function zerosVariable(shape: number[], name: string, trainable = true): tf.Variable {
  return tf.tidy(() => tf.variable(tf.zeros(shape), trainable, name));
}
