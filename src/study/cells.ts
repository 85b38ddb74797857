/**
 * First pass of the analysis, without I/O: a loaded study (collect.ts) sorted into what the
 * statistics compare. Tuning runs give each optimizer's tuned LR (tuning.ts); stress runs form one
 * cell per task × multiplier; the arms' multipliers follow from the stress runs (where either
 * optimizer first fails, failure.ts), exactly as the study placed them, and each arm × multiplier is
 * a cell. Every run the protocol expects is counted, found or missing, in plan order.
 */
import type { ExperimentSpec } from '../train/config.js';
import { armLabels, armNeeds, type ArmName } from './arms.js';
import type { LoadedStudy, StudyRun } from './collect.js';
import { armMultipliers, FAILURE_LOSS_FACTOR, firstFailure, type FailureContext } from './failure.js';
import { longHorizon } from './long_width.js';
import { baseLr, longDirName, longSeedsOf, onLadder, planArm, planTuning, seedsOf, stressDirName, stressMultipliersOf, stressStepsOf, type StudySpec, type StudyTask } from './protocol.js';
import type { ArmStatus, TuningResult } from './results.js';
import { lrSensitivity, median } from './stats.js';
import { runnableArms, taskModelKind } from './study.js';
import { chooseTunedLr } from './tuning.js';

/** One task × multiplier × arm: the runs of each optimizer and the LR they ran at. */
export interface Cell {
  readonly task: string;
  readonly multiplier: number;
  /** 'none' for the stress runs. */
  readonly arm: ArmName;
  /** The stress horizon of the task. */
  readonly plannedSteps: number;
  /** Baseline then treatment; a label none of whose runs was found has an empty list. */
  readonly runsByLabel: Readonly<Record<string, readonly StudyRun[]>>;
  readonly lrByLabel: Readonly<Record<string, number>>;
  /**
   * The labels whose runs belong to this cell's own setting: both for a stress cell, the arm's for an
   * arm (the baseline side of a treatment-only arm is its stress runs, described in the stress cell).
   */
  readonly ownLabels: readonly string[];
}

export interface TaskCells {
  readonly task: StudyTask;
  /** What "failed" means on this task. */
  readonly failure: FailureContext;
  /** Spike detectors that this task's cells' runs (stress, arms, long horizon) recorded, sorted. */
  readonly detectors: readonly string[];
  readonly stress: readonly Cell[];
  /**
   * The long-horizon phase's cells (study v3), one per multiplier: the same measures as a stress
   * cell (late spikes in the last half, logit growth, final loss) over its longer horizon. Empty
   * when the task has no long-horizon runs.
   */
  readonly long: readonly Cell[];
  readonly armCells: readonly Cell[];
  readonly arms: readonly ArmStatus[];
}

export interface StudyCells {
  readonly spec: StudySpec;
  readonly experiments: Readonly<Record<string, ExperimentSpec>>;
  readonly tuning: Readonly<Record<string, Readonly<Record<string, TuningResult>>>>;
  readonly failureLossFactor: number;
  readonly bestTunedLoss: Readonly<Record<string, number>>;
  /** In the spec's task order. */
  readonly tasks: readonly TaskCells[];
  /** Folder names of every run the analysis looked for, in plan order. */
  readonly expected: readonly string[];
  readonly missing: readonly string[];
  /** Backends of the runs found, sorted. */
  readonly backends: readonly string[];
}

/** Tuned LRs and LR sensitivity per task and optimizer, from the tuning runs found. */
function tuningOf(spec: StudySpec, find: (name: string) => StudyRun | undefined, experiments: ReadonlyMap<string, ExperimentSpec>) {
  const plan = planTuning(spec, experiments);
  const entries = spec.tasks.flatMap((task) => {
    const found = plan.filter((p) => p.task === task.experiment).map((p) => ({ p, summary: find(p.dirName)?.summary }));
    const initials = found.map((l) => l.summary?.initialLoss).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    if (initials.length === 0) return [];
    const initialLoss = median(initials);
    const byLabel = [spec.baseline, spec.treatment].flatMap((label): [string, TuningResult][] => {
      const results = found.flatMap((l) => (l.p.label === label && l.summary ? [{ lr: l.p.lr, summary: l.summary }] : []));
      if (results.length === 0) return [];
      const choice = chooseTunedLr(results);
      const grid = choice.grid.map(({ lr, score, n, diverged }) => ({ lr, medianEvalLoss: score, diverged, n }));
      const sens = lrSensitivity(
        grid.map((g) => ({ lr: g.lr, finalLoss: g.medianEvalLoss, diverged: false })),
        initialLoss,
      );
      return [
        [
          label,
          {
            grid,
            tunedLr: choice.tuned.lr,
            bestScoringLr: choice.best.lr,
            noEligibleLr: choice.noEligibleLr,
            sensitivity: sens.sensitivity,
            bestLoss: sens.best,
            initialLoss,
          },
        ],
      ];
    });
    return [[task.experiment, Object.fromEntries(byLabel)] as const];
  });
  const tuning: StudyCells['tuning'] = Object.fromEntries(entries);
  // The failed endpoint's scale: the lower of the optimizers' median final eval loss at their tuned LRs.
  const bestTunedLoss = Object.fromEntries(
    Object.entries(tuning).map(([task, byLabel]) => [
      task,
      Math.min(...Object.values(byLabel).map((t) => t.grid.find((g) => g.lr === t.tunedLr)?.medianEvalLoss ?? Infinity)),
    ]),
  );
  return { tuning, bestTunedLoss };
}

/**
 * Where failure starts among a task's stress cells, by the rule that places the arms (failure.ts, as
 * study.ts's armMultipliersOf applies it to the runs): per optimizer the first multiplier at which at
 * least half its runs failed (firstFailure), and the multipliers where either first fails, ascending
 * — or, when neither fails in any cell, the highest multiplier with a cell (on the ladder the rung it
 * stopped at; the highest of `fallback` when there is no cell): armMultipliers. The arms run at `multipliers`; an endpoint
 * with rung 'first-failure' reads the first of them.
 */
export function failureRungs(
  stress: readonly Cell[],
  labels: readonly string[],
  failure: FailureContext,
  fallback: readonly number[],
): { firsts: Record<string, number | null>; multipliers: number[] } {
  const at = (label: string, m: number) => stress.find((c) => c.multiplier === m)?.runsByLabel[label] ?? [];
  const firsts = Object.fromEntries(labels.map((label) => [label, firstFailure(new Map(stress.map((c) => [c.multiplier, at(label, c.multiplier).map((r) => r.summary)])), failure)]));
  return { firsts, multipliers: armMultipliers(Object.values(firsts), stress.length > 0 ? stress.map((c) => c.multiplier) : fallback) };
}

/** The arms of one task: where they ran (from its stress cells, as the study placed them) and their cells. */
function armsOf(
  spec: StudySpec,
  experiments: ReadonlyMap<string, ExperimentSpec>,
  task: StudyTask,
  stress: readonly Cell[],
  failure: FailureContext,
  tunedOf: (label: string) => number | undefined,
  find: (name: string) => StudyRun | undefined,
): { arms: ArmStatus[]; cells: Cell[] } {
  const listed = (task.arms ?? []).filter((a) => a !== 'none');
  if (listed.length === 0) return { arms: [], cells: [] };
  const labels = [spec.baseline, spec.treatment];
  const stressAt = (label: string, m: number) => stress.find((c) => c.multiplier === m)?.runsByLabel[label] ?? [];
  const { firsts, multipliers } = failureRungs(stress, labels, failure, stressMultipliersOf(spec, task));
  const runnable = new Set(runnableArms(task, experiments));
  const tb = tunedOf(spec.baseline);
  const tt = tunedOf(spec.treatment);
  const arms: ArmStatus[] = [];
  const cells: Cell[] = [];
  for (const arm of listed) {
    if (!runnable.has(arm)) {
      arms.push({ task: task.experiment, arm, multipliers: [], firstFailure: firsts, needs: armNeeds(arm, taskModelKind(task, experiments))! });
      continue;
    }
    arms.push({ task: task.experiment, arm, multipliers, firstFailure: firsts });
    if (tb === undefined || tt === undefined) continue;
    const own = armLabels(arm, spec.baseline, spec.treatment);
    for (const multiplier of multipliers) {
      const sides = labels.map((label) => {
        // An arm of the treatment alone is compared with the baseline's stress runs at the same multiplier.
        if (!own.includes(label)) return { label, runs: stressAt(label, multiplier), lr: (tunedOf(label) ?? NaN) * multiplier };
        const planned = planArm(spec, experiments, task, arm, label, { baseline: tb, treatment: tt }, [multiplier]);
        return { label, runs: planned.flatMap((p) => find(p.dirName) ?? []), lr: planned[0]?.lr ?? NaN };
      });
      cells.push({
        task: task.experiment,
        multiplier,
        arm,
        plannedSteps: stressStepsOf(spec, task),
        runsByLabel: Object.fromEntries(sides.map((s) => [s.label, s.runs])),
        lrByLabel: Object.fromEntries(sides.map((s) => [s.label, s.lr])),
        ownLabels: own,
      });
    }
  }
  return { arms, cells };
}

/** The cells of a loaded study: pure, deterministic, and the only place that decides what was expected. */
export function collectCells(loaded: LoadedStudy): StudyCells {
  const { spec } = loaded;
  const experiments = new Map(Object.entries(loaded.experiments));
  const labels = [spec.baseline, spec.treatment];
  // Every lookup is an expected run; the order of lookups is the plan order the report lists missing runs in.
  const expected: string[] = [];
  const find = (name: string): StudyRun | undefined => {
    expected.push(name);
    return loaded.runs.get(name);
  };
  const { tuning, bestTunedLoss } = tuningOf(spec, find, experiments);
  const failureLossFactor = spec.failureLossFactor ?? FAILURE_LOSS_FACTOR;
  const tasks = spec.tasks.map((task): TaskCells => {
    const failure: FailureContext = {
      bestTunedLoss: bestTunedLoss[task.experiment] ?? Infinity,
      lossFactor: failureLossFactor,
      ...(spec.failureProgressShare !== undefined ? { progressShare: spec.failureProgressShare } : {}),
    };
    const plannedSteps = stressStepsOf(spec, task);
    const own = experiments.get(task.experiment);
    const tunedOf = (label: string) => (task.fixedLr && own ? baseLr(own, label) : tuning[task.experiment]?.[label]?.tunedLr);
    const seeds = seedsOf(spec, task);
    // On the ladder the rungs up to the highest one any run reached (it stops where both optimizers fail).
    const all = stressMultipliersOf(spec, task);
    const ran = (m: number) => labels.some((l) => seeds.some((seed) => loaded.runs.has(stressDirName(task.experiment, l, m, seed))));
    const top = onLadder(spec, task) ? Math.max(all[0]!, ...all.filter(ran)) : Infinity;
    // Looked up multiplier → optimizer → seed, the stress plan's order.
    const stress = all.filter((m) => m <= top).map((multiplier): Cell => {
      const runs = labels.map((label) => seeds.flatMap((seed) => find(stressDirName(task.experiment, label, multiplier, seed)) ?? []));
      return {
        task: task.experiment,
        multiplier,
        arm: 'none',
        plannedSteps,
        runsByLabel: Object.fromEntries(labels.map((l, i) => [l, runs[i]!])),
        lrByLabel: Object.fromEntries(labels.map((l) => [l, (tunedOf(l) ?? NaN) * multiplier])),
        ownLabels: labels,
      };
    });
    const { arms, cells } = armsOf(spec, experiments, task, stress, failure, tunedOf, find);
    const longSteps = spec.long?.tasks.includes(task.experiment) ? longHorizon(spec, experiments, task).steps : 0;
    const long = (longSteps > 0 ? spec.long!.multipliers : []).map((multiplier): Cell => {
      const runs = labels.map((label) => longSeedsOf(spec.long!, task.experiment).flatMap((seed) => find(longDirName(task.experiment, label, multiplier, seed)) ?? []));
      return {
        task: task.experiment,
        multiplier,
        arm: 'none',
        plannedSteps: longSteps,
        runsByLabel: Object.fromEntries(labels.map((l, i) => [l, runs[i]!])),
        lrByLabel: Object.fromEntries(labels.map((l) => [l, (tunedOf(l) ?? NaN) * multiplier])),
        ownLabels: labels,
      };
    });
    const runs = [...stress, ...cells, ...long].flatMap((c) => Object.values(c.runsByLabel).flat());
    const detectors = [...new Set(runs.flatMap((r) => Object.keys(r.summary.spikes)))].sort();
    return { task, failure, detectors, stress, long, armCells: cells, arms };
  });
  const found = expected.flatMap((name) => loaded.runs.get(name) ?? []);
  return {
    spec,
    experiments: loaded.experiments,
    tuning,
    bestTunedLoss,
    failureLossFactor,
    tasks,
    expected,
    missing: expected.filter((name) => !loaded.runs.has(name)),
    backends: [...new Set(found.map((r) => r.summary.backend))].sort(),
  };
}
