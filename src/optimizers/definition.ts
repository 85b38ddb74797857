/**
 * The shape of an optimizer definition: the types shared by the composed optimizer (which runs a
 * definition), the registry (which looks one up by name) and defineOptimizer (which joins the two).
 * They live here, apart from all three, so that none of those modules has to import another's
 * types in a circle.
 */
import type { AfterStepRequest } from './after_step.js';
import type { OptionsOf, OptionSpecs } from './options.js';
import type { GradientTransformation, ParamInfo } from './transforms.js';

export interface ParamGroup {
  readonly learningRate: number;
  readonly transform: GradientTransformation;
}

export interface OptimizerPlan {
  /** Group name → group. Names must not contain '/'. */
  readonly groups: Readonly<Record<string, ParamGroup>>;
  /** Which group a parameter belongs to; defaults to the only group. */
  readonly route?: (param: ParamInfo) => string;
}

export interface OptimizerDefinition<S extends OptionSpecs> {
  /** Registry name used by createOptimizer, e.g. 'muon'. */
  readonly name: string;
  /** tfjs serialisation name; must not clash with tfjs's own ('Adam', 'SGD', ...). */
  readonly className: string;
  readonly description: string;
  readonly options: S;
  readonly plan: (options: OptionsOf<S>) => OptimizerPlan;
  /**
   * Work the training loop does after each of this optimizer's steps, from its resolved options
   * (MuonClip: QK-clip). Absent: none. An experiment's own setting takes precedence.
   */
  readonly afterStep?: (options: OptionsOf<S>) => AfterStepRequest;
}

/** A definition without its functions: what an instance exposes (keeps instances covariant in S). */
export type OptimizerDescription<S extends OptionSpecs> = Omit<OptimizerDefinition<S>, 'plan' | 'afterStep'>;
