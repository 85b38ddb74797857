/** Every shipped optimizer; importing this module registers them all. */
export { AdamW, adamwOptions } from './adamw.js';
export { Adam } from './adam.js';
export { SGD } from './sgd.js';
export { Muon, muonOptions, muonPlan, muonDirection, routesToMuon, type ExcludeRule, type MuonOptions } from './muon.js';
export { NorMuon } from './normuon.js';
export { MuonCubic } from './muon_cubic.js';
export { Lion } from './lion.js';
export { MuonClip } from './muon_clip.js';
export { ComposedOptimizer, defineOptimizer, type OptimizerDefinition, type OptimizerPlan, type ParamGroup } from './composed.js';
export { createOptimizer, listOptimizers, type OptimizerInfo, type OptimizerOptionInfo } from './registry.js';
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
