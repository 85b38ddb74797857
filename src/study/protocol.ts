/**
 * The stability study's protocol as data (docs/references.md#loss-spikes, §7): per task, each optimizer tunes its
 * own LR over its own log-spaced grid with the same seeds; the tuned LR (tuning.ts: the best median
 * final eval loss among LRs that diverged in no seed) is then held constant at 1×, 2×, 4×, 8× over
 * a longer horizon, and spikes and divergence are counted. `planStudy` expands a spec into concrete runs, deterministically.
 *
 * Size: over 400 lines because the spec's types, their validation and the planners that read them
 * are one contract; split apart, a field could be checked in one file and planned in another.
 */
import type { ExperimentSpec, ModelSpec, RunConfig } from '../train/config.js';
import { warmupSteps, type ScheduleSpec } from '../train/schedule.js';
import { expandRuns } from '../train/config.js';
import { applyArm, ARMS, armLabels, isArmName, type ArmName } from './arms.js';
import { baseLr, gridRuns } from './tuning.js';
import { validatePrimaryFamily, type PrimaryEndpoint } from './verdict.js';
import type { CalibrationResult } from './calibration.js';

export { baseLr };

export interface StudyTask {
  /** Experiment name in experiments/. */
  readonly experiment: string;
  /** Replace the experiment's model (e.g. a narrower MLP to keep the study affordable). */
  readonly model?: ModelSpec;
  /** Replace the batch size (the study's `batchSize`, else the experiment's); for the LM, windows per batch. */
  readonly batchSize?: number;
  /** Replace the evaluation size (rows, or held-out windows for the LM). */
  readonly evalSize?: number;
  /** This task's tuning horizon in steps (default: the study's `tune.steps`). */
  readonly tuneSteps?: number;
  /**
   * This task's stress horizon as a multiple of its tuning horizon (default: the study's absolute
   * `stress.steps`). "Late stage" needs the second half of a stress run to lie well past the tuning
   * horizon: ≥ 3 for the LM tasks.
   */
  readonly stressLength?: number;
  /**
   * Arms (src/study/arms.ts) run on this task at the multipliers where either optimizer first fails.
   * Arms whose feature is missing are listed, planned as nothing, and reported as not run.
   */
  readonly arms?: readonly ArmName[];
  /**
   * The experiment file this task loads when its name (`experiment`) is not one: a width variant
   * `lm-moe-d32` is `lm-moe` with its own model. Runs, folders and the analysis key by `experiment`.
   */
  readonly base?: string;
  /** Width-trend tag (sub-claim (h)): the task is `of` at model width `dModel`. */
  readonly width?: { readonly of: string; readonly dModel: number };
  /** Seeds of this task's stress, ladder and arm runs (default: the study's); tuning keeps the study's. */
  readonly seeds?: readonly number[];
  /** Seeds of single arms, e.g. 5 for the exploratory ones where the primary ones get 20 (default: `seeds`). */
  readonly seedsByArm?: Readonly<Partial<Record<ArmName, readonly number[]>>>;
  /** Fixed stress multipliers for this task; it then takes no part in the study's ladder. */
  readonly multipliers?: readonly number[];
  /** This task's stress horizon in steps (overrides `stressLength` and the study's `stress.steps`). */
  readonly stressSteps?: number;
  /**
   * Use the experiment's own (hand-picked) LRs instead of tuning: no tuning runs, the "tuned" LR is
   * the experiment's. For the positive control, whose setting is where AdamW is known to spike.
   */
  readonly fixedLr?: boolean;
  /** Spike detectors of all the task's runs, tuning too (default: the experiment's); they only observe, so runs train the same. */
  readonly detectors?: ExperimentSpec['detectors'];
}

/**
 * The long-horizon phase: ordinary runs at the tuned LR (× each multiplier), constant after the
 * experiment's warm-up, for `tokensPerActiveParam` tokens per active non-embedding parameter
 * (longHorizon below: the step count follows from the model and the batch).
 */
export interface LongHorizonSpec {
  /** Task names (`StudyTask.experiment`). */
  readonly tasks: readonly string[];
  readonly multipliers: readonly number[];
  readonly seeds: readonly number[];
  /** A task's own seeds in this phase (longSeedsOf), e.g. more where its cell feeds a primary endpoint. */
  readonly seedsByTask?: Readonly<Record<string, readonly number[]>>;
  readonly tokensPerActiveParam: number;
}

/** Which tasks play which role in the claim check's sub-claims (a)–(f). */
export interface ClaimTasks {
  /** The claim's own setting: an MoE language model. */
  readonly moe: string;
  /** The dense control for sub-claim (f). */
  readonly dense: string;
}

/** The defaults: the two language models. A study without them reports those sub-claims as not run. */
export const DEFAULT_CLAIM_TASKS: ClaimTasks = { moe: 'lm-moe', dense: 'lm-brown' };

export interface StudySpec {
  readonly name: string;
  readonly description: string;
  readonly tasks: readonly StudyTask[];
  /** Optimizer labels from the experiments, compared pairwise as `treatment` − `baseline`. */
  readonly baseline: string;
  readonly treatment: string;
  readonly seeds: readonly number[];
  readonly tune: {
    /** Per optimizer label: learning rates to try (log-spaced). */
    readonly grid: Readonly<Record<string, readonly number[]>>;
    readonly steps: number;
  };
  readonly stress: {
    readonly multipliers: readonly number[];
    /** The long ("late-stage") horizon, held at a constant LR. */
    readonly steps: number;
    /**
     * Stress to failure: instead of `multipliers`, rungs 1, 2, 4, … doubling up to `cap`, run one
     * rung at a time per task until each optimizer has failed in at least half its runs at some
     * rung (or the cap). Tasks with their own `multipliers` keep those.
     */
    readonly ladder?: { readonly cap: number };
  };
  /** f of the failure rule's "lost progress" criterion (failure.ts); absent: off. */
  readonly failureProgressShare?: number;
  /** The long-horizon phase (absent: none). */
  readonly long?: LongHorizonSpec;
  readonly batchSize?: number;
  /** k of the failed endpoint's "final eval loss ≥ k × the task's best tuned loss" (default FAILURE_LOSS_FACTOR). */
  readonly failureLossFactor?: number;
  /** Roles of the tasks in the claim check v2 (default DEFAULT_CLAIM_TASKS). */
  readonly claimTasks?: ClaimTasks;
  /**
   * The pre-registered primary family (verdict.ts): one endpoint per sub-claim, fixed before any run
   * and written to study.json with the rest of the spec. Only these decide verdicts (Holm over this
   * family); every other endpoint is exploratory. Optional: a study without it (v2) stays reportable
   * and its report says that it decided nothing by this rule.
   */
  readonly primary?: readonly PrimaryEndpoint[];
  /**
   * The detector calibration that set some tasks' `detectors` before the study (calibrate.ts), as its
   * calibration.json recorded it: the report shows it. Each task it names must carry exactly the
   * detectors it chose.
   */
  readonly calibration?: StudyCalibration;
}

/** A calibration recorded in a study spec, and the tasks whose detectors it set. */
export interface StudyCalibration {
  readonly tasks: readonly string[];
  readonly result: CalibrationResult;
}

/** The roles of a study's tasks: its own, else the defaults. */
export const claimTasksOf = (study: StudySpec): ClaimTasks => study.claimTasks ?? DEFAULT_CLAIM_TASKS;

export type Phase = 'tune' | 'stress' | 'arm' | 'long';

export interface PlannedRun {
  readonly phase: Phase;
  readonly task: string;
  readonly label: string;
  /** The main group's learning rate this run uses. */
  readonly lr: number;
  /** Stress multiplier of the tuned LR (1 for tuning runs). */
  readonly multiplier: number;
  /** The arm of an arm run; absent for tuning and stress runs (the 'none' arm). */
  readonly arm?: ArmName;
  readonly seed: number;
  readonly config: RunConfig;
  /** Directory name inside the study's runs/ folder; unique within the study. */
  readonly dirName: string;
}

/** `points` log-spaced values from lo to hi inclusive. */
export function logGrid(lo: number, hi: number, points: number): number[] {
  if (!(lo > 0 && hi > lo && points >= 2)) throw new Error(`logGrid: need 0 < lo < hi and points ≥ 2, got ${lo}, ${hi}, ${points}`);
  const step = Math.log10(hi / lo) / (points - 1);
  // Round to 3 significant digits so grid values print and hash stably.
  return Array.from({ length: points }, (_, i) => Number((lo * 10 ** (step * i)).toPrecision(3)));
}

export function validateStudy(study: StudySpec): void {
  const where = `study "${study.name}"`;
  for (const label of [study.baseline, study.treatment]) {
    const grid = study.tune.grid[label];
    if (!grid || grid.length < 2) throw new Error(`${where}: tune.grid.${label} needs at least 2 learning rates`);
    if (grid.some((x) => !(x > 0))) throw new Error(`${where}: tune.grid.${label} must hold positive learning rates`);
  }
  if (study.seeds.length === 0) throw new Error(`${where}: seeds must not be empty`);
  if (study.stress.multipliers.some((m) => !(m > 0))) throw new Error(`${where}: stress.multipliers must be positive`);
  if (!(study.tune.steps >= 1 && study.stress.steps >= 1)) throw new Error(`${where}: steps must be ≥ 1`);
  if (study.failureLossFactor !== undefined && !(study.failureLossFactor > 1)) {
    throw new Error(`${where}: failureLossFactor = ${study.failureLossFactor}: expected a number > 1`);
  }
  const names = study.tasks.map((t) => t.experiment);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`${where}: task ${dup} is listed twice (give a variant its own name and a \`base\`)`);
  const cap = study.stress.ladder?.cap;
  if (cap !== undefined && !(Number.isFinite(cap) && cap >= 1)) throw new Error(`${where}: stress.ladder.cap = ${cap}: expected a number ≥ 1`);
  if (study.failureProgressShare !== undefined && !(study.failureProgressShare > 0 && study.failureProgressShare <= 1)) {
    throw new Error(`${where}: failureProgressShare = ${study.failureProgressShare}: expected a share in (0, 1]`);
  }
  if (study.long) {
    const l = study.long;
    for (const t of l.tasks) if (!names.includes(t)) throw new Error(`${where}: long.tasks names ${t}, which is not a task of the study`);
    for (const t of Object.keys(l.seedsByTask ?? {})) if (!l.tasks.includes(t)) throw new Error(`${where}: long.seedsByTask names ${t}, which is not in long.tasks`);
    const seedLists = [l.seeds, ...Object.values(l.seedsByTask ?? {})];
    if (seedLists.some((s) => s.length === 0 || s.some((x) => !(Number.isInteger(x) && x >= 0))) || l.multipliers.length === 0 || l.multipliers.some((m) => !(m > 0))) {
      throw new Error(`${where}: long needs seeds (non-negative integers, seedsByTask's too) and positive multipliers`);
    }
    if (!(l.tokensPerActiveParam > 0)) throw new Error(`${where}: long.tokensPerActiveParam must be positive`);
  }
  if (study.primary !== undefined) {
    try {
      validatePrimaryFamily(study.primary);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
    for (const e of study.primary) {
      // A primary endpoint on a task the study never runs could not be measured: refuse it before any run.
      const task = taskOf(study, e.task);
      if (!task) throw new Error(`${where}: primary endpoint (${e.subClaim}) names task ${e.task}, which is not in the study`);
      // Its multipliers must be ones its phase's runs use: the stress runs' (fixed, or a ladder rung), or the long-horizon phase's.
      const long = e.phase === 'long';
      const reachable = long ? (study.long?.tasks.includes(e.task) ? study.long.multipliers : []) : stressMultipliersOf(study, task);
      const stray = e.multipliers.filter((m) => !reachable.includes(m));
      if (stray.length) throw new Error(`${where}: primary endpoint (${e.subClaim}) names multiplier(s) ${stray.join(', ')} that task ${e.task}'s ${long ? 'long-horizon' : 'stress'} runs never use`);
    }
  }
  for (const name of study.calibration?.tasks ?? []) {
    const task = taskOf(study, name);
    if (!task) throw new Error(`${where}: calibration names task ${name}, which is not in the study`);
    // The report says these detectors came from this calibration: they must be the ones it chose.
    if (JSON.stringify(task.detectors ?? null) !== JSON.stringify(study.calibration!.result.detectors)) {
      throw new Error(`${where}: task ${name}'s detectors are not the ones its calibration chose`);
    }
  }
  for (const task of study.tasks) {
    const w = `${where}: task ${task.experiment}`;
    if (task.tuneSteps !== undefined && !(Number.isInteger(task.tuneSteps) && task.tuneSteps >= 1)) {
      throw new Error(`${w}: tuneSteps = ${task.tuneSteps}: expected a positive integer`);
    }
    for (const key of ['batchSize', 'evalSize'] as const) {
      const n = task[key];
      if (n !== undefined && !(Number.isInteger(n) && n >= 1)) throw new Error(`${w}: ${key} = ${n}: expected a positive integer`);
    }
    if (task.stressLength !== undefined && !(task.stressLength > 0 && Number.isFinite(task.stressLength))) {
      throw new Error(`${w}: stressLength = ${task.stressLength}: expected a positive multiple of the tuning horizon`);
    }
    for (const [key, value] of [['seeds', task.seeds], ['multipliers', task.multipliers]] as const) {
      if (value !== undefined && (value.length === 0 || value.some((x) => !(x >= 0 && Number.isFinite(x))))) {
        throw new Error(`${w}: ${key} must be a non-empty list of non-negative numbers`);
      }
    }
    if (task.multipliers?.some((m) => !(m > 0))) throw new Error(`${w}: multipliers must be positive`);
    if (task.stressSteps !== undefined && !(Number.isInteger(task.stressSteps) && task.stressSteps >= 1)) {
      throw new Error(`${w}: stressSteps = ${task.stressSteps}: expected a positive integer`);
    }
    for (const arm of task.arms ?? []) {
      if (!isArmName(arm) || arm === 'none') {
        throw new Error(`${w}: arm ${JSON.stringify(arm)}: expected one of ${Object.keys(ARMS).filter((a) => a !== 'none').join(', ')}`);
      }
    }
  }
}

/** A task's tuning horizon. */
export const tuneStepsOf = (study: StudySpec, task: StudyTask): number => task.tuneSteps ?? study.tune.steps;

/** A task's stress horizon: its `stressSteps`, else `stressLength` × its tuning horizon, else the study's `stress.steps`. */
export function stressStepsOf(study: StudySpec, task: StudyTask): number {
  if (task.stressSteps !== undefined) return task.stressSteps;
  return task.stressLength !== undefined ? Math.max(1, Math.round(task.stressLength * tuneStepsOf(study, task))) : study.stress.steps;
}

/** The experiment file a task loads. */
export const experimentFileOf = (task: StudyTask): string => task.base ?? task.experiment;

/** The seeds of a task's stress and ladder runs. */
export const seedsOf = (study: StudySpec, task: StudyTask): readonly number[] => task.seeds ?? study.seeds;

/** The seeds of a task's long-horizon runs: its own in `long.seedsByTask`, else the phase's. */
export const longSeedsOf = (long: LongHorizonSpec, task: string): readonly number[] => long.seedsByTask?.[task] ?? long.seeds;

/** The seeds of one arm on a task. */
export const armSeedsOf = (study: StudySpec, task: StudyTask, arm: ArmName): readonly number[] => task.seedsByArm?.[arm] ?? seedsOf(study, task);

/** The ladder's rungs: 1, 2, 4, … up to and including the largest power of 2 ≤ cap. */
export function ladderRungs(cap: number): number[] {
  const out: number[] = [];
  for (let m = 1; m <= cap; m *= 2) out.push(m);
  return out;
}

/** Whether a task's stress runs climb the study's ladder (rung by rung) rather than fixed multipliers. */
export const onLadder = (study: StudySpec, task: StudyTask): boolean => study.stress.ladder !== undefined && task.multipliers === undefined;

/** Every multiplier a task's stress runs may use: its own, else the ladder's rungs, else the study's. */
export function stressMultipliersOf(study: StudySpec, task: StudyTask): readonly number[] {
  if (task.multipliers) return task.multipliers;
  return study.stress.ladder ? ladderRungs(study.stress.ladder.cap) : study.stress.multipliers;
}

/** The task entry of an experiment name (undefined when the study has no such task). */
export const taskOf = (study: StudySpec, experiment: string): StudyTask | undefined => study.tasks.find((t) => t.experiment === experiment);

/**
 * A multiplier or grid LR as the study writes it in folder names and reports: 3 significant digits,
 * trailing zeros dropped (2 → "2", 1.5 → "1.5", 0.000316 → "0.000316").
 */
export const fmt3 = (x: number): string => Number(x.toPrecision(3)).toString();

/** A multiplier of the tuned LR as the report and figures label it: "2×". */
export const multLabel = (m: number): string => `${fmt3(m)}×`;

/** A tuning run's folder name (the study's and `npm run tune`'s). */
export const tuneDirName = (experiment: string, label: string, lr: number, seed: number) =>
  `tune__${experiment}__${label}__lr${fmt3(lr)}__s${seed}`;

/** A stress run's folder name. */
export const stressDirName = (experiment: string, label: string, multiplier: number, seed: number) =>
  `stress__${experiment}__${label}__x${fmt3(multiplier)}__s${seed}`;

/** A long-horizon run's folder name. */
export const longDirName = (experiment: string, label: string, multiplier: number, seed: number) =>
  `long__${experiment}__${label}__x${fmt3(multiplier)}__s${seed}`;

/** An arm run's folder name: it does not depend on the tuned LRs, so the analysis can find it without them. */
export const armDirName = (experiment: string, arm: ArmName, label: string, multiplier: number, seed: number) =>
  `arm__${experiment}__${arm}__${label}__x${fmt3(multiplier)}__s${seed}`;

function taskSpec(spec: ExperimentSpec, task: StudyTask, study: StudySpec): ExperimentSpec {
  return {
    ...spec,
    ...(task.model ? { model: task.model } : {}),
    ...(study.batchSize ? { batchSize: study.batchSize } : {}),
    ...(task.batchSize ? { batchSize: task.batchSize } : {}),
    ...(task.evalSize ? { evalSize: task.evalSize } : {}),
    ...(task.detectors ? { detectors: task.detectors } : {}),
    optimizers: { [study.baseline]: spec.optimizers[study.baseline]!, [study.treatment]: spec.optimizers[study.treatment]! },
  };
}

/** The tuning runs: every grid LR × seed, for each task and optimizer. Final eval only. */
export function planTuning(study: StudySpec, experiments: ReadonlyMap<string, ExperimentSpec>): PlannedRun[] {
  const out: PlannedRun[] = [];
  for (const task of study.tasks) {
    if (task.fixedLr) continue;
    const spec = taskSpec(experiments.get(task.experiment)!, task, study);
    for (const label of [study.baseline, study.treatment]) {
      for (const { lr, seed, config } of gridRuns(spec, label, study.tune.grid[label]!, study.seeds, tuneStepsOf(study, task))) {
        out.push({
          phase: 'tune',
          task: task.experiment,
          label,
          lr,
          multiplier: 1,
          seed,
          config,
          dirName: tuneDirName(task.experiment, label, lr, seed),
        });
      }
    }
  }
  return out;
}

/**
 * The stress runs for one task and optimizer, given its tuned LR: the experiment's warm-up, then a
 * constant LR at each multiplier, the long horizon, evaluation every tenth of it (for balance-over-time panels).
 */
export function planStress(
  study: StudySpec,
  experiments: ReadonlyMap<string, ExperimentSpec>,
  task: StudyTask,
  label: string,
  tunedLr: number,
  multipliers: readonly number[] = stressMultipliersOf(study, task),
  seeds: readonly number[] = seedsOf(study, task),
): PlannedRun[] {
  const spec = taskSpec(experiments.get(task.experiment)!, task, study);
  const steps = stressStepsOf(study, task);
  const evalEvery = Math.max(1, Math.floor(steps / 10));
  // Warm-up then constant: the experiment's own warm-up, so a high multiplier tests the
  // LR held late, not a cold start at it.
  const warmup = warmupSteps(spec.schedule);
  const schedule: ScheduleSpec = warmup > 0 ? { kind: 'constant', warmup } : { kind: 'constant' };
  const base = expandRuns({ ...spec, schedule, evalEvery }, { optimizers: [label], seeds: [...seeds], steps });
  const out: PlannedRun[] = [];
  for (const multiplier of multipliers) {
    for (const run of base) {
      const lr = tunedLr * multiplier;
      out.push({
        phase: 'stress',
        task: task.experiment,
        label,
        lr,
        multiplier,
        seed: run.seed,
        config: { ...run, optimizer: { ...run.optimizer, lrSource: `stress: ${multLabel(multiplier)} the study's tuned LR` }, lrScale: lr / baseLr(spec, label) },
        dirName: stressDirName(task.experiment, label, multiplier, run.seed),
      });
    }
  }
  return out;
}

/**
 * The runs of one arm on one task and optimizer: the stress runs' configs (constant LR, the stress
 * horizon) at each of `multipliers`, with the arm's override. `tuned` holds both optimizers' tuned
 * LRs because an arm may take its LR from the baseline (`lrFrom: 'baseline'`).
 */
export function planArm(
  study: StudySpec,
  experiments: ReadonlyMap<string, ExperimentSpec>,
  task: StudyTask,
  arm: ArmName,
  label: string,
  tuned: { readonly baseline: number; readonly treatment: number },
  multipliers: readonly number[],
): PlannedRun[] {
  if (!armLabels(arm, study.baseline, study.treatment).includes(label)) return [];
  const spec = taskSpec(experiments.get(task.experiment)!, task, study);
  const own = label === study.baseline ? tuned.baseline : tuned.treatment;
  const from = ARMS[arm].override.lrFrom === 'baseline' ? tuned.baseline : own;
  const stress = planStress(study, experiments, task, label, own, multipliers, armSeedsOf(study, task, arm));
  return stress.map((p) => {
    const lr = from * p.multiplier;
    return {
      ...p,
      phase: 'arm' as const,
      arm,
      lr,
      config: applyArm(p.config, arm, lr / baseLr(spec, label)),
      dirName: armDirName(task.experiment, arm, label, p.multiplier, p.seed),
    };
  });
}
