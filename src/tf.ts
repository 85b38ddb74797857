/**
 * The one tfjs namespace this project uses. Optimizers, models and callers must all create
 * tensors and variables with this same instance: a second copy of tfjs-core has its own engine,
 * and variables from it are invisible to ours.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export { tf };
