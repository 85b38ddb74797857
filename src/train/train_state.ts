/**
 * Between the training loop and a checkpoint file: the model's variables, the optimizer's slots and
 * the model's own extra state captured as plain arrays, and put back into a freshly built model and
 * optimizer on resume (checkpoint.ts reads and writes the file itself).
 */
import { tf } from '../tf.js';
import type { Model } from '../models/model.js';
import type { ComposedOptimizer } from '../optimizers/index.js';
import type { SavedTensor, TrainState } from './checkpoint.js';

/** A checkpoint that does not fit the model it is restored into (shapes, names). */
export class CheckpointMismatch extends Error {
  override name = 'CheckpointMismatch';
}

async function saveTensor(name: string, t: tf.Tensor): Promise<SavedTensor> {
  const data = await t.data();
  return t.dtype === 'int32'
    ? { name, shape: t.shape, dtype: 'int32', data: Int32Array.from(data) }
    : { name, shape: t.shape, dtype: 'float32', data: Float32Array.from(data) };
}

/**
 * The state a checkpoint holds: the model's variables (by position), the optimizer's slots (its
 * getWeights, with the variable name replaced by its position) and the model's own extra state.
 */
export async function captureState(model: Model, optimizer: ComposedOptimizer, step: number, wallSeconds: number): Promise<TrainState> {
  const position = new Map(model.variables.map((v, i) => [v.name, i]));
  const variables = await Promise.all(model.variables.map((v, i) => saveTensor(String(i), v)));
  const [iter, ...slots] = await optimizer.getWeights();
  const optimizerIterations = (await iter!.tensor.data())[0]!;
  iter!.tensor.dispose();
  const optimizerState = await Promise.all(
    slots.map(({ name, tensor }) => {
      const parts = name.split('/');
      const tail = parts.splice(-2).join('/');
      const at = position.get(parts.join('/'));
      if (at === undefined) throw new CheckpointMismatch(`optimizer state "${name}" belongs to no model variable`);
      return saveTensor(`${at}/${tail}`, tensor);
    }),
  );
  const extra = model.state?.() ?? {};
  const modelState = await Promise.all(Object.keys(extra).sort().map((k) => saveTensor(k, extra[k]!)));
  return { step, wallSeconds, optimizerIterations, variables, optimizer: optimizerState, model: modelState };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export async function restoreState(model: Model, optimizer: ComposedOptimizer, state: TrainState): Promise<void> {
  const vars = model.variables;
  if (state.variables.length !== vars.length) throw new CheckpointMismatch(`it holds ${state.variables.length} variables, the model has ${vars.length}`);
  state.variables.forEach((t, i) => {
    if (!sameShape(t.shape, vars[i]!.shape)) throw new CheckpointMismatch(`variable ${i} has shape [${t.shape}], the model's is [${vars[i]!.shape}]`);
  });
  tf.tidy(() => state.variables.forEach((t, i) => vars[i]!.assign(tf.tensor(t.data, [...t.shape], t.dtype))));
  const weights = [
    { name: 'iter', tensor: tf.scalar(state.optimizerIterations, 'int32') },
    ...state.optimizer.map((t) => {
      const parts = t.name.split('/');
      const v = vars[Number(parts[0])];
      if (!v || parts.length !== 3) throw new CheckpointMismatch(`optimizer state "${t.name}" names no model variable`);
      return { name: `${v.name}/${parts[1]}/${parts[2]}`, tensor: tf.tensor(t.data, [...t.shape], t.dtype) };
    }),
  ];
  try {
    await optimizer.setWeights(weights);
  } finally {
    tf.dispose(weights.map((w) => w.tensor));
  }
  if (state.model.length > 0) {
    if (!model.restoreState) throw new CheckpointMismatch('it holds model state this model does not keep');
    const tensors = Object.fromEntries(state.model.map((t) => [t.name, tf.tensor(t.data, [...t.shape], t.dtype)]));
    try {
      model.restoreState(tensors);
    } finally {
      tf.dispose(Object.values(tensors));
    }
  }
}
