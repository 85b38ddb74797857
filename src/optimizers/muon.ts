/**
 * Muon (KellerJordan/Muon `muon.py`, docs/references.md#muon): momentum, Newton–Schulz orthogonalisation and
 * a shape scale for hidden weight matrices; an internal AdamW for everything else (rank < 2 and
 * whatever `exclude` selects). Per matrix W with gradient G:
 *   m ← β·m + (1−β)·G;  u ← Nesterov ? (1−β)·G + β·m : m;  X ← NS(u)
 *   W ← W·(1 − lr·wd) − lr·scale(shape)·X
 * The option specs and `muonPlan` are exported so a variant is a short file (see normuon.ts).
 */
import { defineOptimizer } from './define.js';
import type { OptimizerPlan } from './definition.js';
import {
  KELLER_NS_COEFFICIENTS,
  KELLER_NS_EPSILON,
  KELLER_NS_STEPS,
  NS_PRECISIONS,
  type NsCoefficients,
  type NsPrecision,
} from './newton_schulz.js';
import {
  adamOptionSpecs,
  beta,
  booleanOption,
  enumOption,
  epsilon,
  learningRate,
  numberOption,
  resolveNested,
  weightDecay,
  type OptionSpec,
  type OptionsOf,
} from './options.js';
import {
  addDecayedWeights,
  chain,
  emaMomentum,
  orthogonalize,
  scaleByAdam,
  scaleByShape,
  type GradientTransformation,
  type ParamInfo,
  type ShapeScaleRule,
} from './transforms.js';

const KELLER = 'KellerJordan/Muon';

/** Keller's internal AdamW for non-matrix parameters: lr 3e-4, betas (0.9, 0.95), eps 1e-10, wd 0. */
const muonAdamwOptions = adamOptionSpecs(
  { learningRate: 3e-4, beta1: 0.9, beta2: 0.95, epsilon: 1e-10, weightDecay: 0, decayDoc: 'decoupled decay, multiplied by lr' },
  KELLER,
);
export type MuonAdamwOptions = OptionsOf<typeof muonAdamwOptions>;

/** Which parameters skip Muon: a predicate on name and shape, or regular-expression name patterns. */
export type ExcludeRule =
  | ((name: string, shape: readonly number[]) => boolean)
  | string
  | RegExp
  | readonly (string | RegExp)[]
  | null;

function patternsOf(rule: ExcludeRule): RegExp[] | undefined {
  if (rule === null || typeof rule === 'function') return undefined;
  const list = Array.isArray(rule) ? rule : [rule as string | RegExp];
  return list.map((p) => (p instanceof RegExp ? p : new RegExp(p)));
}

const excludeOption: OptionSpec<ExcludeRule> = {
  default: null,
  doc: 'parameters sent to the internal AdamW besides rank < 2: (name, shape) => boolean, or regex name patterns',
  source: 'sandbox (Keller routes by hand)',
  accepts: 'null, a function (name, shape) => boolean, a regex pattern string or RegExp, or an array of them',
  parse(v) {
    if (v === null || typeof v === 'function') return v as ExcludeRule;
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((p) => typeof p === 'string' || p instanceof RegExp)) return undefined;
    try {
      patternsOf(v as ExcludeRule);
    } catch {
      return undefined; // an invalid regular expression
    }
    return v as ExcludeRule;
  },
  // A function cannot be serialised; a loaded optimizer still routes every variable it has state
  // for as saved (the group is part of each state weight's name).
  toJSON: (v) => (v === null || typeof v === 'function' ? null : patternsOf(v)!.map((r) => r.source)),
};

const isTriple = (c: unknown): c is NsCoefficients =>
  Array.isArray(c) && c.length === 3 && c.every((x) => typeof x === 'number' && Number.isFinite(x));

export const nsCoefficientsOption = (def: NsCoefficients | readonly NsCoefficients[], source: string) =>
  ({
    default: def,
    doc: 'Newton–Schulz (a, b, c), or one triple per step (the last one repeats)',
    source,
    accepts: 'a triple [a, b, c] of finite numbers, or a non-empty array of such triples',
    parse: (v) => (isTriple(v) || (Array.isArray(v) && v.length > 0 && v.every(isTriple)) ? v : undefined),
  }) satisfies OptionSpec<NsCoefficients | readonly NsCoefficients[]>;

export const muonOptions = {
  learningRate: learningRate(0.02, `${KELLER} ("original" scaling)`),
  momentum: beta(0.95, 'momentum β ∈ [0, 1)', KELLER),
  nesterov: booleanOption(true, 'Nesterov momentum', KELLER),
  nsSteps: numberOption(KELLER_NS_STEPS, { min: 1, max: 99, integer: true }, 'Newton–Schulz iterations', KELLER),
  nsCoefficients: nsCoefficientsOption(KELLER_NS_COEFFICIENTS, KELLER),
  epsilon: epsilon(KELLER_NS_EPSILON, 'Newton–Schulz normaliser guard: X/(‖X‖_F + eps)', KELLER),
  nsPrecision: enumOption<NsPrecision>(
    'fp32',
    NS_PRECISIONS,
    "Newton–Schulz arithmetic: 'fp32', or 'bf16' (Keller's G.bfloat16() path emulated: every matmul and elementwise result rounded to bf16)",
    `${KELLER} (it runs NS in bf16); sandbox default fp32`,
  ),
  weightDecay: weightDecay(0, 'decoupled decay W·(1 − lr·wd), unadjusted lr', KELLER),
  lrAdjust: enumOption<ShapeScaleRule>(
    'original',
    ['original', 'match_rms_adamw'],
    "shape scale: 'original' sqrt(max(1, fan_out/fan_in)); 'match_rms_adamw' 0.2·sqrt(max(fan_in, fan_out))",
    `${KELLER}; Moonlight / torch.optim.Muon`,
  ),
  exclude: excludeOption,
  adamw: {
    default: resolveNested(muonAdamwOptions, {})!,
    doc: 'internal AdamW for rank < 2 and excluded parameters',
    source: KELLER,
    accepts: `an object with ${Object.keys(muonAdamwOptions).join(', ')}`,
    parse: (v) => resolveNested(muonAdamwOptions, v),
  } satisfies OptionSpec<MuonAdamwOptions, Partial<MuonAdamwOptions>> as OptionSpec<MuonAdamwOptions, Partial<MuonAdamwOptions>>,
};
export type MuonOptions = OptionsOf<typeof muonOptions>;

/** The options every Muon variant shares (a variant may add its own). */
type MuonCore = Pick<MuonOptions, keyof typeof muonOptions>;

/** Rank < 2 goes to AdamW, as does anything `exclude` selects. */
export function routesToMuon(param: ParamInfo, exclude: ExcludeRule): boolean {
  if (param.shape.length < 2) return false;
  if (exclude === null) return true;
  if (typeof exclude === 'function') return !exclude(param.name, param.shape);
  return !patternsOf(exclude)!.some((r) => r.test(param.name));
}

/** Momentum (lerp, optional Nesterov) then Newton–Schulz: Keller's `muon_update` before the shape scale. */
export function muonDirection(o: MuonCore): GradientTransformation {
  return chain(
    emaMomentum(o.momentum, o.nesterov),
    orthogonalize({ steps: o.nsSteps, coefficients: o.nsCoefficients, epsilon: o.epsilon, precision: o.nsPrecision }),
  );
}

/**
 * The two-group plan every Muon variant uses: `matrix` for hidden matrices (the variant's
 * direction, then shape scale and decoupled decay), `adamw` for the rest.
 */
export function muonPlan(o: MuonCore, direction: GradientTransformation): OptimizerPlan {
  return {
    groups: {
      muon: {
        learningRate: o.learningRate,
        transform: chain(direction, scaleByShape(o.lrAdjust, o.nsPrecision), addDecayedWeights(o.weightDecay)),
      },
      adamw: {
        learningRate: o.adamw.learningRate,
        transform: chain(scaleByAdam(o.adamw), addDecayedWeights(o.adamw.weightDecay)),
      },
    },
    route: (p) => (routesToMuon(p, o.exclude) ? 'muon' : 'adamw'),
  };
}

export const Muon = defineOptimizer({
  name: 'muon',
  className: 'Muon',
  description: 'Muon: Nesterov momentum + Newton–Schulz orthogonalisation for matrices, AdamW for the rest',
  options: muonOptions,
  plan: (o) => muonPlan(o, muonDirection(o)),
});
export type Muon = InstanceType<typeof Muon>;
