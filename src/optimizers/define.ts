/**
 * `defineOptimizer` turns a short declarative definition into a registered tfjs class; every
 * shipped optimizer is one such call, and so is a user's new variant. It sits above both the
 * composed optimizer (the class it extends) and the registry (where it records the class), which
 * keeps those two free of each other.
 */
import { tf } from '../tf.js';
import { ComposedOptimizer } from './composed.js';
import type { OptimizerDefinition } from './definition.js';
import type { OptionsInput, OptionSpecs } from './options.js';
import { registerOptimizer } from './registry.js';

export type ComposedOptimizerClass<S extends OptionSpecs> = {
  new (options?: OptionsInput<S>): ComposedOptimizer<S>;
  readonly className: string;
  readonly definition: OptimizerDefinition<S>;
};

/** Make, register (with tfjs and the sandbox registry) and return an optimizer class. */
export function defineOptimizer<S extends OptionSpecs>(definition: OptimizerDefinition<S>): ComposedOptimizerClass<S> {
  const cls = class extends ComposedOptimizer<S> {
    static readonly className = definition.className;
    static readonly definition = definition;
    constructor(options?: OptionsInput<S>) {
      super(definition, options);
    }
  };
  Object.defineProperty(cls, 'name', { value: definition.className });
  const map = tf.serialization.SerializationMap.getMap().classNameMap;
  if (map[definition.className] !== undefined) {
    throw new Error(`an optimizer class named "${definition.className}" is already registered with tfjs`);
  }
  tf.serialization.registerClass(cls as unknown as tf.serialization.SerializableConstructor<ComposedOptimizer<S>>);
  registerOptimizer(definition, cls as unknown as new (options?: Record<string, unknown>) => ComposedOptimizer);
  return cls;
}
