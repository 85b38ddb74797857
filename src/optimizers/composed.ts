/**
 * ComposedOptimizer: a tf.Optimizer built from parameter groups, each a chain of gradient
 * transformations and a learning rate (optax's multi_transform + chain). It follows tfjs-core's
 * conventions (className, getConfig/fromConfig, getWeights/setWeights, registration) but keys
 * its state by variable name instead of by position, so routing and state survive reordering.
 *
 * Registering a definition as a named class is `defineOptimizer` (define.ts), one level up: this
 * module knows nothing of the registry, so the registry can name the class it creates.
 */
import { tf } from '../tf.js';
import type { OptimizerDefinition, OptimizerDescription, OptimizerPlan } from './definition.js';
import { optionsToJSON, resolveOptions, type OptionsInput, type OptionsOf, type OptionSpecs } from './options.js';
import type { ParamInfo, StepSignalName, UpdateContext } from './transforms.js';

/** tfjs's {name, tensor} pair (not re-exported by @tensorflow/tfjs). */
export type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

interface ParamState {
  group: string;
  slots: Map<string, tf.Variable>;
}

/**
 * tfjs-layers renames a variable `x` to `x_1` when a model with the same layer names is already in
 * memory (getUniqueTensorName), e.g. a model loaded next to the one that saved it.
 */
function canonicalName(name: string): string {
  return name.replace(/_\d+$/, '');
}

export class ComposedOptimizer<S extends OptionSpecs = OptionSpecs> extends tf.Optimizer {
  readonly definition: OptimizerDescription<S>;
  readonly options: OptionsOf<S>;
  /** Multiplies every group's learning rate; LR schedules set it each step. */
  lrScale = 1;
  /**
   * When true, each step keeps Σ(Δθ)² and the element count per group so that
   * `takeUpdateRms()` can report update RMS without a synchronous read inside the step.
   */
  collectUpdateStats = false;
  /**
   * When true, transforms may count per-step signals (UpdateContext.count, e.g. Adam's
   * 'smallGradShare'); the caller must drain them every step with `drainSignalStats()`, or they pile up.
   */
  collectSignals = false;

  private readonly plan: OptimizerPlan;
  private readonly state = new Map<string, ParamState>();
  /** State restored by setWeights and not yet matched to a live variable. */
  private readonly unclaimed = new Set<string>();
  /** Per group: Σ(Δθ)² of each parameter update since the last drain, and the element count. */
  private updateStats = new Map<string, { parts: tf.Scalar[]; count: number }>();
  /** Per (signal, group): the coordinate counts transforms reported since the last drain, and the coordinates looked at. */
  private signalStats = new Map<string, { signal: StepSignalName; group: string; parts: tf.Scalar[]; count: number }>();

  constructor(definition: OptimizerDefinition<S>, options?: OptionsInput<S>) {
    super();
    const { plan: _plan, afterStep: _afterStep, ...description } = definition;
    this.definition = description;
    this.options = resolveOptions(definition.className, definition.options, options as Record<string, unknown>);
    this.plan = definition.plan(this.options);
    for (const g of Object.keys(this.plan.groups)) {
      if (g.includes('/')) throw new Error(`${definition.className}: group name "${g}" must not contain '/'`);
    }
  }

  /** The main group's base learning rate (the first group). */
  get learningRate(): number {
    return Object.values(this.plan.groups)[0]!.learningRate;
  }

  /** Base learning rate of each group, before lrScale. */
  groupLearningRates(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.plan.groups).map(([k, g]) => [k, g.learningRate]));
  }

  /** The group a parameter goes to: its restored state's group if any, else the plan's route. */
  groupOf(param: ParamInfo): string {
    const known = this.state.get(param.name);
    if (known) return known.group;
    const groups = Object.keys(this.plan.groups);
    const g = this.plan.route ? this.plan.route(param) : groups[0]!;
    if (!(g in this.plan.groups)) throw new Error(`${this.definition.className}: route returned unknown group "${g}"`);
    return g;
  }

  override getClassName(): string {
    return this.definition.className;
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries: [string, tf.Tensor][] = Array.isArray(variableGradients)
      ? variableGradients.map(({ name, tensor }) => [name, tensor])
      : Object.entries(variableGradients);
    const step = this.iterations + 1;
    const present = new Set(entries.map(([n]) => n));
    for (const [name, grad] of entries) {
      if (grad == null) continue;
      const variable = tf.engine().registeredVariables[name];
      if (!variable) throw new Error(`${this.definition.className}: no variable named "${name}" is registered`);
      const param: ParamInfo = { name, shape: variable.shape };
      const state = this.stateFor(param, present);
      const group = this.plan.groups[state.group]!;
      const lr = group.learningRate * this.lrScale;
      const ctx: UpdateContext = {
        param,
        value: variable,
        step,
        slot: (slotName) => {
          const v = state.slots.get(slotName);
          if (!v) throw new Error(`${this.definition.className}: transform asked for undeclared slot "${slotName}"`);
          return { read: () => v, write: (t) => v.assign(t) };
        },
        ...(this.collectSignals ? { count: (signal: StepSignalName, n: tf.Scalar) => this.recordSignal(signal, state.group, n, grad.size) } : {}),
      };
      tf.tidy(() => {
        const delta = tf.mul(group.transform.update(grad, ctx), lr);
        variable.assign(tf.sub(variable, delta));
        if (this.collectUpdateStats) this.recordUpdate(state.group, delta);
      });
    }
    this.incrementIterations();
  }

  private recordUpdate(group: string, delta: tf.Tensor): void {
    const entry = this.updateStats.get(group) ?? { parts: [], count: 0 };
    entry.parts.push(tf.keep(tf.sum(tf.square(delta)) as tf.Scalar));
    entry.count += delta.size;
    this.updateStats.set(group, entry);
  }

  private recordSignal(signal: StepSignalName, group: string, n: tf.Scalar, size: number): void {
    const key = `${signal}/${group}`;
    const entry = this.signalStats.get(key) ?? { signal, group, parts: [], count: 0 };
    entry.parts.push(tf.keep(n));
    entry.count += size;
    this.signalStats.set(key, entry);
  }

  /**
   * Hand over the counts transforms reported (UpdateContext.count) per signal and group as one
   * tensor (the caller disposes it); share = sums[i] / counts[i]. Undefined when none reported.
   */
  drainSignalStats(): { entries: { signal: StepSignalName; group: string }[]; counts: number[]; sums: tf.Tensor1D } | undefined {
    const stats = [...this.signalStats.values()];
    if (stats.length === 0) return undefined;
    const sums = tf.tidy(() => tf.stack(stats.map((s) => (s.parts.length === 1 ? s.parts[0]! : tf.addN(s.parts)))) as tf.Tensor1D);
    for (const s of stats) tf.dispose(s.parts);
    this.signalStats = new Map();
    return { entries: stats.map(({ signal, group }) => ({ signal, group })), counts: stats.map((s) => s.count), sums };
  }

  /**
   * Hand over the accumulated Σ(Δθ)² per group as one tensor (the caller disposes it), so a
   * training loop can read it together with its loss in a single sync. RMS = sqrt(sumSq / count).
   */
  drainUpdateStats(): { groups: string[]; counts: number[]; sumSq: tf.Tensor1D } | undefined {
    const groups = [...this.updateStats.keys()];
    if (groups.length === 0) return undefined;
    const stats = groups.map((g) => this.updateStats.get(g)!);
    const sumSq = tf.tidy(() => tf.stack(stats.map((s) => (s.parts.length === 1 ? s.parts[0]! : tf.addN(s.parts)))) as tf.Tensor1D);
    for (const s of stats) tf.dispose(s.parts);
    this.updateStats = new Map();
    return { groups, counts: stats.map((s) => s.count), sumSq };
  }

  /** RMS of Δθ per group since the last call (needs collectUpdateStats). */
  async takeUpdateRms(): Promise<Record<string, number>> {
    const drained = this.drainUpdateStats();
    if (!drained) return {};
    const sums = await drained.sumSq.data();
    drained.sumSq.dispose();
    return Object.fromEntries(drained.groups.map((g, i) => [g, Math.sqrt(sums[i]! / drained.counts[i]!)]));
  }

  private stateFor(param: ParamInfo, present: Set<string>): ParamState {
    let st = this.state.get(param.name);
    if (st) {
      this.unclaimed.delete(param.name);
    } else {
      st = this.adoptRestoredState(param.name, present) ?? this.createState(param);
      this.state.set(param.name, st);
    }
    return st;
  }

  private adoptRestoredState(name: string, present: Set<string>): ParamState | undefined {
    const candidates = [...this.unclaimed].filter((n) => !present.has(n) && canonicalName(n) === canonicalName(name));
    if (candidates.length !== 1) return undefined;
    const from = candidates[0]!;
    const st = this.state.get(from)!;
    this.state.delete(from);
    this.unclaimed.delete(from);
    return st;
  }

  private createState(param: ParamInfo): ParamState {
    const group = this.groupOf(param);
    const slots = new Map<string, tf.Variable>();
    for (const [slot, shape] of Object.entries(this.plan.groups[group]!.transform.slots(param))) {
      slots.set(slot, tf.tidy(() => tf.variable(tf.zeros(shape as number[]), false)));
    }
    return { group, slots };
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [await this.saveIterations()];
    for (const name of [...this.state.keys()].sort()) {
      const st = this.state.get(name)!;
      for (const slot of [...st.slots.keys()].sort()) {
        out.push({ name: `${name}/${st.group}/${slot}`, tensor: st.slots.get(slot)! });
      }
    }
    return out;
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    this.disposeState();
    for (const { name, tensor } of rest) {
      const parts = name.split('/');
      if (parts.length < 3) throw new Error(`${this.definition.className}: malformed optimizer weight name "${name}"`);
      const slot = parts.pop()!;
      const group = parts.pop()!;
      const param = parts.join('/');
      if (!(group in this.plan.groups)) {
        throw new Error(`${this.definition.className}: weight "${name}" names unknown group "${group}"`);
      }
      let st = this.state.get(param);
      if (!st) {
        st = { group, slots: new Map() };
        this.state.set(param, st);
        this.unclaimed.add(param);
      }
      st.slots.set(slot, tf.tidy(() => tf.variable(tensor.clone(), false)));
    }
  }

  override getConfig(): tf.serialization.ConfigDict {
    return optionsToJSON(this.definition.options, this.options) as tf.serialization.ConfigDict;
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    // tfjs-layers passes its deserialisation context along as `customObjects`; it is not an option.
    const { customObjects: _ignored, ...options } = config;
    return new (cls as unknown as new (o: tf.serialization.ConfigDict) => T)(options);
  }

  private disposeState(): void {
    for (const st of this.state.values()) for (const v of st.slots.values()) v.dispose();
    this.state.clear();
    this.unclaimed.clear();
  }

  override dispose(): void {
    this.disposeState();
    for (const s of this.updateStats.values()) tf.dispose(s.parts);
    this.updateStats.clear();
    for (const s of this.signalStats.values()) tf.dispose(s.parts);
    this.signalStats.clear();
    super.dispose();
  }
}
