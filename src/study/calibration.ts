/**
 * Detector calibration (docs/references.md#loss-spikes): known spikes are injected into otherwise
 * clean runs of a task (src/train/inject.ts), and each spike detector is scored at a ladder of
 * thresholds by how many injections it finds and how often it fires on clean runs. A stated rule
 * then fixes each detector's threshold per task. All of it is pure: `planCalibration` says which
 * runs to make, `scoreCalibration` turns their logged signals into rates, `chooseThresholds` and
 * `preRegister` apply the rules. Running the plan is src/study/calibrate.ts.
 *
 * Why: in the v2 study the loss detectors never fired on the language models, and on a positive
 * control their 0.1 absolute floor hid every spike; a detector that was never shown to find a
 * known spike on these models cannot decide a claim about spikes.
 */
import { formatNumber } from '../text/table.js';
import { expandRuns, type ExperimentSpec, type RunConfig } from '../train/config.js';
import type { Injection, InjectionKind } from '../train/inject.js';
import { warmupSteps, type ScheduleSpec } from '../train/schedule.js';
import { createDetector, DEFAULT_DETECTORS, type DetectorSpec, type StepSignal } from '../train/spikes.js';

/**
 * Calibration seeds start here: far above any study's seeds (0..n−1, n ≤ a few dozen), so the study
 * never reuses a calibration run and the thresholds are not fitted to the runs they then count.
 */
export const CALIBRATION_SEED_BASE = 10_000;

/** A detection counts when the detector flags a step in [k, k + window] for an injection at step k. */
export const DEFAULT_DETECTION_WINDOW = 5;

/** The rule's false-positive budget: at most this many events per 1000 clean steps, for every optimizer. */
export const MAX_FP_PER_1K = 1;

/** LR injections multiply that one step's LR by this. */
export const DEFAULT_LR_FACTOR = 10;

/**
 * Four injections per injected run, alternating a 10× LR step and a corrupted batch, at 40, 55, 70
 * and 85 % of the run: after every detector's warm-up (≤ 50 values) and the LR warm-up, and far
 * enough apart (≥ 45 steps in a 300-step run) that one injection's aftermath has settled before
 * the next, so each is scored on its own.
 */
export function defaultInjections(steps: number, lrFactor = DEFAULT_LR_FACTOR): Injection[] {
  return [0.4, 0.55, 0.7, 0.85].map((f, i) => {
    const step = Math.max(1, Math.round(f * steps));
    return i % 2 === 0 ? { step, kind: 'lr' as const, factor: lrFactor } : { step, kind: 'batch' as const };
  });
}

export interface CalibrationPlanInput {
  /** The task as the study runs it (model, batch size and LRs already applied). */
  readonly spec: ExperimentSpec;
  /** Optimizer labels of the spec to calibrate on (the study's baseline and treatment). */
  readonly labels: readonly string[];
  readonly cleanSeeds: readonly number[];
  readonly injectedSeeds: readonly number[];
  readonly steps: number;
  /** Applied to every injected run. */
  readonly injections: readonly Injection[];
}

export interface CalibrationRun {
  readonly label: string;
  readonly seed: number;
  /** The injections of this run ([] for a clean run). */
  readonly injections: readonly Injection[];
  readonly config: RunConfig;
  /** Folder name under the calibration's runs folder. */
  readonly dirName: string;
}

/** Injected runs' seeds start this far above the clean ones, so asking for more or fewer seeds keeps every earlier run. */
const INJECTED_SEED_OFFSET = 1000;

/** The first n clean and n injected calibration seeds. */
export function calibrationSeeds(n: number): { clean: number[]; injected: number[] } {
  const from = (base: number) => Array.from({ length: n }, (_, i) => base + i);
  return { clean: from(CALIBRATION_SEED_BASE), injected: from(CALIBRATION_SEED_BASE + INJECTED_SEED_OFFSET) };
}

/**
 * The calibration runs: every label × (clean seeds, injected seeds), `steps` long, with the
 * experiment's warm-up then a constant LR (the study's stress schedule: spikes are counted there).
 * Throws on a seed the two lists share or an injection outside the run.
 */
export function planCalibration(input: CalibrationPlanInput): CalibrationRun[] {
  const shared = input.cleanSeeds.filter((s) => input.injectedSeeds.includes(s));
  if (shared.length > 0) throw new Error(`calibration: seed ${shared[0]} is both clean and injected`);
  if (input.injectedSeeds.length > 0 && input.injections.length === 0) throw new Error('calibration: injected seeds but no injections');
  const warmup = warmupSteps(input.spec.schedule);
  const schedule: ScheduleSpec = warmup > 0 ? { kind: 'constant', warmup } : { kind: 'constant' };
  // Evaluation costs steps and the detectors read only the training signals: evaluate at the end only.
  const spec: ExperimentSpec = { ...input.spec, schedule, evalEvery: input.steps };
  const out: CalibrationRun[] = [];
  const sides = [
    { seeds: input.cleanSeeds, injections: [] as readonly Injection[], tag: 'clean' },
    { seeds: input.injectedSeeds, injections: input.injections, tag: 'inj' },
  ];
  // Seed by seed, both optimizers and both sides each time: a calibration cut short still has a
  // balanced set of finished runs to score.
  const n = Math.max(input.cleanSeeds.length, input.injectedSeeds.length);
  for (let i = 0; i < n; i++) {
    for (const label of input.labels) {
      for (const side of sides) {
        const seed = side.seeds[i];
        if (seed === undefined) continue;
        const [run] = expandRuns(spec, { optimizers: [label], seeds: [seed], steps: input.steps });
        const config: RunConfig = side.injections.length > 0 ? { ...run!, inject: side.injections } : run!;
        out.push({ label, seed, injections: side.injections, config, dirName: `calib__${spec.name}__${label}__${side.tag}__s${seed}` });
      }
    }
  }
  return out;
}

/** One run's logged signals, as scoring needs them. */
export interface CalibrationSeries {
  readonly label: string;
  readonly seed: number;
  readonly injections: readonly Injection[];
  /** In step order; a diverged run's series ends at its divergence. */
  readonly signals: readonly StepSignal[];
}

/** One detector setting on the threshold ladder. */
export interface Candidate {
  /** The detector family's name (median, zscore, gradnorm): the chosen spec carries it. */
  readonly detector: string;
  /** E.g. "threshold 0.3", "σ 5": what the table prints. */
  readonly setting: string;
  readonly spec: DetectorSpec;
  /** The v2 default setting, scored for comparison. */
  readonly isDefault?: boolean;
}

/**
 * The ladders, strictest first. The loss rules drop the 0.1 absolute floor (minJump 0): on the LMs
 * a minibatch loss of ≈ 2 nats moves by less than 0.1 in most spikes, which is why the v2 defaults
 * never fired there; the calibration decides how loose each rule may be instead. Windows and
 * warm-ups stay the defaults (src/train/spikes.ts).
 */
const LADDERS = {
  median: [2, 1, 0.5, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05],
  zscore: [8, 7, 6, 5, 4.5, 4, 3.5, 3],
  gradnorm: [8, 7, 6, 5, 4.5, 4, 3.5, 3],
} as const;

/** The detector families the calibration sets: the default detectors' names (src/train/spikes.ts). */
export type CalibratedDetector = keyof typeof LADDERS;

/**
 * One setting of a family as a detector spec, under the family's own name (so endpoints keep their
 * names): the loss rules without the 0.1 floor, windows and warm-ups the defaults. The one home of
 * the calibrated shapes, for the ladders below and for a study that writes its chosen settings down.
 */
export function calibratedSpec(detector: CalibratedDetector, value: number): DetectorSpec {
  if (detector === 'median') return { kind: 'rollingMedian', name: 'median', threshold: value, minJump: 0 };
  if (detector === 'zscore') return { kind: 'zscore', name: 'zscore', sigma: value, minJump: 0 };
  return { kind: 'gradNormEma', name: 'gradnorm', z: value };
}

const SETTING_TEXT: Readonly<Record<CalibratedDetector, string>> = { median: 'threshold', zscore: 'σ', gradnorm: 'z' };

export function candidateGrid(): Candidate[] {
  const out: Candidate[] = [];
  for (const detector of Object.keys(LADDERS) as CalibratedDetector[]) {
    for (const value of LADDERS[detector]) out.push({ detector, setting: `${SETTING_TEXT[detector]} ${value}`, spec: calibratedSpec(detector, value) });
  }
  for (const spec of DEFAULT_DETECTORS) out.push({ detector: spec.name!, setting: 'v2 default', spec, isDefault: true });
  return out;
}

/** The steps a detector flags on one series. */
export function flaggedSteps(spec: DetectorSpec, signals: readonly StepSignal[]): number[] {
  const d = createDetector(spec);
  return signals.filter((s) => d.observe(s)).map((s) => s.step);
}

/** Maximal runs of consecutive flagged steps: a three-step spike is one event, as the study counts it. */
export function countEvents(steps: readonly number[]): number {
  let events = 0;
  for (let i = 0; i < steps.length; i++) if (i === 0 || steps[i]! !== steps[i - 1]! + 1) events++;
  return events;
}

export interface Tally {
  readonly detected: number;
  readonly injected: number;
}

export interface ScoreRow extends Candidate {
  /** Injections found / scored, over all injected runs. */
  readonly detection: Tally;
  readonly detectionRate: number;
  /** Injections not scored: their run had ended (diverged) before the window closed. */
  readonly unreached: number;
  readonly byKind: Readonly<Partial<Record<InjectionKind, Tally>>>;
  /** Per optimizer label: events on its clean runs per 1000 clean steps. */
  readonly fpPer1kByLabel: Readonly<Record<string, number>>;
  /** The worst optimizer's clean-run rate: the rule bounds every optimizer's. */
  readonly fpPer1k: number;
  readonly cleanSteps: number;
}

/**
 * One candidate's rates. An injection counts when its window [k, k + window] lies inside the
 * run's logged steps (a run that diverged earlier cannot show it); false positives are events on
 * clean runs per 1000 logged clean steps.
 */
export function scoreCandidate(c: Candidate, series: readonly CalibrationSeries[], window = DEFAULT_DETECTION_WINDOW): ScoreRow {
  let detected = 0;
  let injected = 0;
  let unreached = 0;
  const byKind: Partial<Record<InjectionKind, { detected: number; injected: number }>> = {};
  const fp = new Map<string, { events: number; steps: number }>();
  for (const s of series) {
    const flags = flaggedSteps(c.spec, s.signals);
    if (s.injections.length === 0) {
      const f = fp.get(s.label) ?? { events: 0, steps: 0 };
      f.events += countEvents(flags);
      f.steps += s.signals.length;
      fp.set(s.label, f);
      continue;
    }
    const last = s.signals.length > 0 ? s.signals[s.signals.length - 1]!.step : 0;
    for (const inj of s.injections) {
      if (inj.step + window > last) {
        unreached++;
        continue;
      }
      const hit = flags.some((f) => f >= inj.step && f <= inj.step + window);
      const k = (byKind[inj.kind] ??= { detected: 0, injected: 0 });
      k.injected++;
      injected++;
      if (hit) {
        k.detected++;
        detected++;
      }
    }
  }
  const fpPer1kByLabel = Object.fromEntries([...fp].map(([label, f]) => [label, f.steps > 0 ? (1000 * f.events) / f.steps : NaN]));
  const rates = Object.values(fpPer1kByLabel);
  return {
    ...c,
    detection: { detected, injected },
    detectionRate: injected > 0 ? detected / injected : NaN,
    unreached,
    byKind,
    fpPer1kByLabel,
    fpPer1k: rates.length > 0 ? Math.max(...rates) : NaN,
    cleanSteps: [...fp.values()].reduce((a, f) => a + f.steps, 0),
  };
}

export function scoreCalibration(series: readonly CalibrationSeries[], candidates = candidateGrid(), window = DEFAULT_DETECTION_WINDOW): ScoreRow[] {
  return candidates.map((c) => scoreCandidate(c, series, window));
}

/** The threshold rule, as the report states it. */
export const THRESHOLD_RULE =
  `per task and detector, the loosest setting on its ladder whose false-positive rate on the clean calibration runs is ≤ ${MAX_FP_PER_1K} event per 1000 steps for every optimizer; ` +
  'when even the strictest exceeds it, the strictest, marked as over budget';

export interface Choice {
  readonly detector: string;
  readonly chosen: ScoreRow;
  /** False when no setting met the FP budget (the strictest is returned, and must not be trusted). */
  readonly withinBudget: boolean;
}

/** THRESHOLD_RULE applied to scored ladder rows (v2-default rows are not candidates). */
export function chooseThresholds(rows: readonly ScoreRow[], maxFpPer1k = MAX_FP_PER_1K): Choice[] {
  const out: Choice[] = [];
  const families = [...new Set(rows.filter((r) => !r.isDefault).map((r) => r.detector))];
  for (const detector of families) {
    // Ladder order is strictest first, so the last row within budget is the loosest.
    const ladder = rows.filter((r) => r.detector === detector && !r.isDefault);
    const ok = ladder.filter((r) => r.fpPer1k <= maxFpPer1k);
    out.push(ok.length > 0 ? { detector, chosen: ok[ok.length - 1]!, withinBudget: true } : { detector, chosen: ladder[0]!, withinBudget: false });
  }
  return out;
}

/** The calibrated detectors, ready to be an experiment's `detectors`. */
export const calibratedDetectors = (choices: readonly Choice[]): DetectorSpec[] => choices.map((c) => c.chosen.spec);

/** The pre-registration rule for the primary spike endpoints, as the report states it. */
export const PRE_REGISTRATION_RULE =
  'the detector whose calibrated setting, within the false-positive budget, finds the largest share of injected spikes; ties go to the lower false-positive rate, then to the loss rules (they measure what the claim is about)';

/** PRE_REGISTRATION_RULE; undefined when no detector met the budget. */
export function preRegister(choices: readonly Choice[]): Choice | undefined {
  const order = ['median', 'zscore', 'gradnorm'];
  const rank = (d: string) => (order.includes(d) ? order.indexOf(d) : order.length);
  return choices
    .filter((c) => c.withinBudget && Number.isFinite(c.chosen.detectionRate))
    .sort((a, b) => b.chosen.detectionRate - a.chosen.detectionRate || a.chosen.fpPer1k - b.chosen.fpPer1k || rank(a.detector) - rank(b.detector))[0];
}

/** A finished calibration (calibrate.ts writes it as calibration.json; a study spec can record it). */
export interface CalibrationResult {
  readonly experiment: string;
  readonly labels: readonly string[];
  readonly steps: number;
  readonly cleanSeeds: readonly number[];
  readonly injectedSeeds: readonly number[];
  readonly injections: readonly Injection[];
  readonly window: number;
  readonly backend: string;
  readonly command: string;
  readonly thresholdRule: string;
  readonly preRegistrationRule: string;
  readonly rows: readonly ScoreRow[];
  readonly choices: readonly Choice[];
  /** The detector the primary spike endpoints use, or null when none met the budget. */
  readonly preRegistered: string | null;
  /** The calibrated settings, ready to be the task's `detectors`. */
  readonly detectors: readonly DetectorSpec[];
}

/** The injections of a calibration's injected runs, e.g. "10× LR @120, shuffled targets @165". */
export const injectionsText = (r: CalibrationResult): string =>
  r.injections.map((i) => (i.kind === 'lr' ? `${i.factor}× LR @${i.step}` : `shuffled targets @${i.step}`)).join(', ');

/** What a calibration ran and scored; the rest of its result follows from the rules (calibrationResult). */
export type ScoredCalibration = Omit<CalibrationResult, 'thresholdRule' | 'preRegistrationRule' | 'choices' | 'preRegistered' | 'detectors'>;

/** A scored calibration with THRESHOLD_RULE's choices, PRE_REGISTRATION_RULE's detector and the calibrated settings. */
export function calibrationResult(run: ScoredCalibration): CalibrationResult {
  const choices = chooseThresholds(run.rows);
  return {
    experiment: run.experiment,
    labels: run.labels,
    steps: run.steps,
    cleanSeeds: run.cleanSeeds,
    injectedSeeds: run.injectedSeeds,
    injections: run.injections,
    window: run.window,
    backend: run.backend,
    command: run.command,
    thresholdRule: THRESHOLD_RULE,
    preRegistrationRule: PRE_REGISTRATION_RULE,
    rows: run.rows,
    choices,
    preRegistered: preRegister(choices)?.detector ?? null,
    detectors: calibratedDetectors(choices),
  };
}

const tallyText = (t: Tally | undefined): string => (t && t.injected > 0 ? `${t.detected}/${t.injected}` : '—');

/** The detector × setting table of a calibration (the terminal's and the report's): chosen settings marked ←. */
export function calibrationTable(r: CalibrationResult): { head: string[]; rows: string[][] } {
  const chosen = new Set(r.choices.map((c) => `${c.detector}|${c.chosen.setting}`));
  return {
    head: ['detector', 'setting', 'detection', 'LR steps', 'bad batches', ...r.labels.map((l) => `FP/1k ${l}`)],
    rows: r.rows.map((row) => [
      row.detector,
      `${row.setting}${chosen.has(`${row.detector}|${row.setting}`) ? ' ←' : ''}`,
      formatNumber(row.detectionRate, 3),
      tallyText(row.byKind.lr),
      tallyText(row.byKind.batch),
      ...r.labels.map((l) => formatNumber(row.fpPer1kByLabel[l] ?? null, 3)),
    ]),
  };
}

/** One line per calibrated detector: its chosen setting, detection rate and false-positive rate. */
export const choiceLines = (r: CalibrationResult): string[] =>
  r.choices.map(
    (c) => `${c.detector}: ${c.chosen.setting}${c.withinBudget ? '' : ' (OVER the FP budget)'} — detects ${formatNumber(c.chosen.detectionRate, 3)}, FP/1k ≤ ${formatNumber(c.chosen.fpPer1k, 3)}`,
  );
