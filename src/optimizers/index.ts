/** Every shipped optimizer; importing this module registers them all. */
export { AdamW, adamwOptions } from './adamw.js';
export { Adam } from './adam.js';
export { SGD } from './sgd.js';
export { Muon, muonOptions, muonPlan, muonDirection, routesToMuon, type ExcludeRule, type MuonOptions } from './muon.js';
export { NorMuon } from './normuon.js';
export { MuonCubic } from './muon_cubic.js';
export { Lion } from './lion.js';
export { MuonClip } from './muon_clip.js';
export { ComposedOptimizer } from './composed.js';
export { defineOptimizer } from './define.js';
export type { OptimizerDefinition, OptimizerPlan, ParamGroup } from './definition.js';
export { QK_CLIP_DEFAULTS, type AfterStepRequest, type QkClipSpec } from './after_step.js';
export { createOptimizer, declaredAfterStep, listOptimizers, type OptimizerInfo, type OptimizerOptionInfo } from './registry.js';
export {
  OptionError,
  adamOptionSpecs,
  beta,
  booleanOption,
  enumOption,
  epsilon,
  learningRate,
  numberOption,
  weightDecay,
  type OptionSpec,
  type OptionSpecs,
} from './options.js';
export * as transforms from './transforms.js';
export {
  zeropowerViaNewtonSchulz,
  KELLER_NS_COEFFICIENTS,
  type NewtonSchulzOptions,
  type NsCoefficients,
} from './newton_schulz.js';
