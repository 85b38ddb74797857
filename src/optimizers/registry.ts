/**
 * The optimizer registry: names → classes, with defaults and option checks, so the CLI, the
 * experiment specs and the study can create any optimizer, including a user's new variant, by name.
 */
import type { AfterStepRequest } from './after_step.js';
import type { ComposedOptimizer } from './composed.js';
import type { OptimizerDefinition } from './definition.js';
import { OptionError, resolveOptions, type OptionSpecs } from './options.js';

type AnyOptimizerClass = new (options?: Record<string, unknown>) => ComposedOptimizer;

export interface OptimizerOptionInfo {
  readonly name: string;
  readonly default: unknown;
  readonly accepts: string;
  readonly doc: string;
  readonly source: string;
}

export interface OptimizerInfo {
  readonly name: string;
  readonly className: string;
  readonly description: string;
  readonly options: readonly OptimizerOptionInfo[];
}

const registry = new Map<string, { definition: OptimizerDefinition<OptionSpecs>; cls: AnyOptimizerClass }>();

export function registerOptimizer<S extends OptionSpecs>(definition: OptimizerDefinition<S>, cls: AnyOptimizerClass): void {
  if (!/^[a-z][a-z0-9_-]*$/.test(definition.name)) {
    throw new Error(`optimizer name "${definition.name}" must be lower-case letters, digits, '-' or '_'`);
  }
  if (registry.has(definition.name)) throw new Error(`an optimizer named "${definition.name}" is already registered`);
  registry.set(definition.name, { definition: definition as unknown as OptimizerDefinition<OptionSpecs>, cls });
}

/** Create a registered optimizer; bad names and options throw an OptionError that says why. */
export function createOptimizer(name: string, options: Record<string, unknown> = {}): ComposedOptimizer {
  const entry = registry.get(name);
  if (!entry) {
    throw new OptionError(`unknown optimizer "${name}"; known optimizers: ${[...registry.keys()].join(', ')}`);
  }
  return new entry.cls(options);
}

/**
 * What a registered optimizer declares for after its steps (its definition's `afterStep`, from its
 * options with defaults filled in); {} for an unknown name or an optimizer that declares nothing.
 */
export function declaredAfterStep(name: string, options: Readonly<Record<string, unknown>> = {}): AfterStepRequest {
  const entry = registry.get(name);
  if (!entry?.definition.afterStep) return {};
  const { definition } = entry;
  return definition.afterStep!(resolveOptions(definition.className, definition.options, { ...options }));
}

export function listOptimizers(): OptimizerInfo[] {
  return [...registry.values()].map(({ definition }) => ({
    name: definition.name,
    className: definition.className,
    description: definition.description,
    options: Object.entries(definition.options).map(([name, spec]) => ({
      name,
      default: spec.toJSON ? spec.toJSON(spec.default) : spec.default,
      accepts: spec.accepts,
      doc: spec.doc,
      source: spec.source,
    })),
  }));
}
