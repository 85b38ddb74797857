/**
 * Public API. Create variables with the exported `tf`: it is the tfjs instance the optimizers use.
 */
export { tf } from './tf.js';
export { initBackend, currentBackend, type BackendName, type BackendChoice } from './backend.js';
export * from './optimizers/index.js';
export {
  checkOptimizer,
  formatConformance,
  CONFORMANCE_CHECKS,
  type CheckId,
  type CheckResult,
  type ConformanceOptions,
  type ConformanceReport,
} from './variants/conformance.js';
