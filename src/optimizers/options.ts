/**
 * Typed option specs for optimizers: each option has a default, a documented source, and a check
 * that rejects bad values with a message naming the option, the value and the accepted range.
 */

export class OptionError extends Error {
  override name = 'OptionError';
}

/** Thrown by a nested option's parse (e.g. Muon's `adamw`) so the outer message can name `adamw.beta2`. */
export class NestedOptionError extends Error {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly accepts: string,
  ) {
    super(`option "${key}" = ${show(value)} is out of range: expected ${accepts}`);
  }
}

/** `In` is what a caller may pass when it differs from the resolved type (e.g. a partial nested object). */
export interface OptionSpec<T, In = T> {
  readonly default: T;
  /** Type-level only: carries `In` for OptionsInput. */
  readonly input?: In;
  /** Where the default comes from (paper, reference implementation, or "sandbox choice"). */
  readonly source: string;
  /** One line for --help and the README table. */
  readonly doc: string;
  /** Human description of the accepted values, used in error messages. */
  readonly accepts: string;
  /** Returns the value if acceptable, else undefined. */
  parse(value: unknown): T | undefined;
  /** JSON form for getConfig; defaults to the value itself. */
  toJSON?(value: T): unknown;
}

export type OptionSpecs = Record<string, OptionSpec<unknown, unknown>>;
export type OptionsOf<S extends OptionSpecs> = { [K in keyof S]: S[K] extends OptionSpec<infer T, unknown> ? T : never };
export type OptionsInput<S extends OptionSpecs> = {
  [K in keyof S]?: S[K] extends OptionSpec<unknown, infer In> ? In : never;
};

interface NumberRange {
  min?: number;
  max?: number;
  /** true: the bound itself is rejected. */
  minExclusive?: boolean;
  maxExclusive?: boolean;
  integer?: boolean;
}

function describeRange(r: NumberRange): string {
  const lo = r.min === undefined ? '(-∞' : `${r.minExclusive ? '(' : '['}${r.min}`;
  const hi = r.max === undefined ? '∞)' : `${r.max}${r.maxExclusive ? ')' : ']'}`;
  if (r.integer && r.min !== undefined && r.max !== undefined && !r.minExclusive && !r.maxExclusive) {
    return `an integer in ${r.min}..${r.max}`;
  }
  return `${r.integer ? 'an integer' : 'a number'} in ${lo}, ${hi}`;
}

function inRange(x: number, r: NumberRange): boolean {
  if (!Number.isFinite(x)) return false;
  if (r.integer && !Number.isInteger(x)) return false;
  if (r.min !== undefined && (r.minExclusive ? x <= r.min : x < r.min)) return false;
  if (r.max !== undefined && (r.maxExclusive ? x >= r.max : x > r.max)) return false;
  return true;
}

export function numberOption(def: number, range: NumberRange, doc: string, source: string): OptionSpec<number> {
  return {
    default: def,
    doc,
    source,
    accepts: describeRange(range),
    parse: (v) => (typeof v === 'number' && inRange(v, range) ? v : undefined),
  };
}

export function booleanOption(def: boolean, doc: string, source: string): OptionSpec<boolean> {
  return { default: def, doc, source, accepts: 'true or false', parse: (v) => (typeof v === 'boolean' ? v : undefined) };
}

export function enumOption<T extends string>(def: T, values: readonly T[], doc: string, source: string): OptionSpec<T> {
  return {
    default: def,
    doc,
    source,
    accepts: `one of ${values.map((v) => `'${v}'`).join(', ')}`,
    parse: (v) => (typeof v === 'string' && (values as readonly string[]).includes(v) ? (v as T) : undefined),
  };
}

/** The usual ranges, named once so every optimizer states them the same way. */
export const learningRate = (def: number, source: string): OptionSpec<number> =>
  numberOption(def, { min: 0 }, 'step size (≥ 0)', source);
export const beta = (def: number, doc: string, source: string): OptionSpec<number> =>
  numberOption(def, { min: 0, max: 1, maxExclusive: true }, doc, source);
export const epsilon = (def: number, doc: string, source: string): OptionSpec<number> =>
  numberOption(def, { min: 0 }, doc, source);
export const weightDecay = (def: number, doc: string, source: string): OptionSpec<number> =>
  numberOption(def, { min: 0 }, doc, source);

function show(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (value instanceof RegExp) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Resolve a nested option object (e.g. Muon's internal AdamW settings) against its own specs;
 * errors name the inner key so the outer resolver can report `adamw.beta2`.
 */
export function resolveNested<S extends OptionSpecs>(specs: S, input: unknown): OptionsOf<S> | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  const given = input as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(given)) {
    if (!(key in specs)) throw new NestedOptionError(key, given[key], `one of ${Object.keys(specs).join(', ')}`);
  }
  for (const [key, spec] of Object.entries(specs)) {
    if (given[key] === undefined) {
      out[key] = spec.default;
      continue;
    }
    const parsed = spec.parse(given[key]);
    if (parsed === undefined) throw new NestedOptionError(key, given[key], spec.accepts);
    out[key] = parsed;
  }
  return out as OptionsOf<S>;
}

/**
 * Merge user options over the defaults, checking each one. Unknown names and bad values throw an
 * OptionError such as `Muon: option "nsSteps" = 0 is out of range: expected an integer in 1..99`.
 */
export function resolveOptions<S extends OptionSpecs>(
  owner: string,
  specs: S,
  input: Record<string, unknown> | undefined,
): OptionsOf<S> {
  const out: Record<string, unknown> = {};
  const given = input ?? {};
  for (const key of Object.keys(given)) {
    if (!(key in specs)) {
      throw new OptionError(`${owner}: unknown option "${key}"; known options: ${Object.keys(specs).join(', ')}`);
    }
  }
  const fail = (key: string, raw: unknown, accepts: string): never => {
    throw new OptionError(`${owner}: option "${key}" = ${show(raw)} is out of range: expected ${accepts}`);
  };
  for (const [key, spec] of Object.entries(specs)) {
    const raw = given[key];
    if (raw === undefined) {
      out[key] = spec.default;
      continue;
    }
    let parsed: unknown;
    try {
      parsed = spec.parse(raw);
    } catch (e) {
      if (e instanceof NestedOptionError) fail(`${key}.${e.key}`, e.value, e.accepts);
      throw e;
    }
    if (parsed === undefined) fail(key, raw, spec.accepts);
    out[key] = parsed;
  }
  return out as OptionsOf<S>;
}

/** JSON-safe form of resolved options, for getConfig. */
export function optionsToJSON<S extends OptionSpecs>(specs: S, values: OptionsOf<S>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const v = (values as Record<string, unknown>)[key];
    out[key] = spec.toJSON ? spec.toJSON(v) : v;
  }
  return out;
}

export interface AdamDefaults {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** How the weight decay acts (decoupled or L2), for the docs. */
  decayDoc: string;
}

/** The six Adam-family options (AdamW, Adam, Muon's internal AdamW), each with its own defaults and source. */
export function adamOptionSpecs(d: AdamDefaults, source: string) {
  return {
    learningRate: learningRate(d.learningRate, source),
    beta1: beta(d.beta1, 'first-moment decay β₁ ∈ [0, 1)', source),
    beta2: beta(d.beta2, 'second-moment decay β₂ ∈ [0, 1)', source),
    epsilon: epsilon(d.epsilon, 'added to √v̂', source),
    weightDecay: weightDecay(d.weightDecay, d.decayDoc, source),
    amsgrad: booleanOption(false, 'use the running max of v (AMSGrad)', source),
  };
}
