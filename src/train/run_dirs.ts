/**
 * Finding and loading saved run folders (config.json + metrics.jsonl, summary.json when finished),
 * and how runs form series (runs that differ only in their seed) with the names they carry in
 * charts, tables and figures. Shared by the terminal views, the
 * HTML/SVG figures and the browser checks, so all of them read run files the same way.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { createOptimizer } from '../optimizers/index.js';
import { FP32, isFullPrecision, precisionLabel } from '../precision/qat.js';
import type { RunConfig } from './config.js';
import type { StepRecord } from './loop.js';
import type { RunSummary } from './summary.js';
import { CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, readJSON, readMetrics } from './run_files.js';
import { loadSummary, warnToStderr } from './run_readers.js';

export interface LoadedRun {
  readonly dir: string;
  readonly config: RunConfig;
  /** Absent when the run was interrupted. */
  readonly summary: RunSummary | undefined;
  readonly metrics: StepRecord[];
}

/** A path holding config.json is a run; otherwise its subfolders are searched (two levels deep). */
export function findRunDirs(paths: readonly string[], depth = 3): string[] {
  const out: string[] = [];
  const visit = (p: string, level: number) => {
    if (existsSync(join(p, CONFIG_FILE)) && existsSync(join(p, METRICS_FILE))) {
      out.push(p);
      return;
    }
    if (level >= depth) return;
    for (const entry of readdirSync(p).sort()) {
      const child = join(p, entry);
      if (statSync(child).isDirectory()) visit(child, level + 1);
    }
  };
  for (const p of paths) {
    if (!existsSync(p) || !statSync(p).isDirectory()) throw new UsageError(`${p}: not a directory`);
    const before = out.length;
    visit(p, 0);
    if (out.length === before) throw new UsageError(`${p}: no run directories (config.json + metrics.jsonl) found`);
  }
  return out;
}

export function loadRun(dir: string): LoadedRun {
  const summaryPath = join(dir, SUMMARY_FILE);
  return {
    dir,
    config: readJSON<RunConfig>(join(dir, CONFIG_FILE)),
    summary: existsSync(summaryPath) ? readJSON<RunSummary>(summaryPath) : undefined,
    metrics: readMetrics<StepRecord>(join(dir, METRICS_FILE)),
  };
}

/**
 * Load run folders for a table or chart, never crashing on a damaged file and never counting one:
 * an unreadable config.json or metrics.jsonl leaves the run out, a damaged summary.json shows it
 * as unfinished; each gets one warning line naming the file.
 */
export function loadRuns(dirs: readonly string[], warn: (line: string) => void = warnToStderr): LoadedRun[] {
  const out: LoadedRun[] = [];
  for (const dir of dirs) {
    let config: RunConfig;
    try {
      config = readJSON<RunConfig>(join(dir, CONFIG_FILE));
      if (typeof config !== 'object' || config === null || typeof config.experiment !== 'string' || typeof config.label !== 'string') {
        throw new Error('not a run config');
      }
    } catch (e) {
      warn(`${join(dir, CONFIG_FILE)} is damaged (${(e as Error).message.split('\n', 1)[0]}); run left out`);
      continue;
    }
    let metrics: StepRecord[];
    try {
      metrics = readMetrics<StepRecord>(join(dir, METRICS_FILE));
    } catch (e) {
      warn(`${(e as Error).message.split('\n', 1)[0]}; run left out`);
      continue;
    }
    const summary = loadSummary(dir, warn, 'shown as unfinished');
    out.push({ dir, config, summary, metrics });
  }
  return out;
}

/** Runs from before precision existed are float32. */
export const precisionOf = (r: LoadedRun) => precisionLabel(r.config.precision ?? FP32);

/** Three significant digits: an LR of 0.2/1e-3·… prints as 0.2, not 0.19999999999999998. */
const fmt3 = (x: number) => String(Number(x.toPrecision(3)));

/**
 * Each optimizer group's learning rate as the run trained with it: the group's base LR under the
 * run's options × its lrScale (a stress multiplier or grid point). Undefined when the optimizer is
 * not registered here (a variant file that is not loaded), so the caller can say so.
 */
export function runLearningRates(config: RunConfig): Record<string, number> | undefined {
  let optimizer: ReturnType<typeof createOptimizer>;
  try {
    optimizer = createOptimizer(config.optimizer.name, { ...config.optimizer.options });
  } catch {
    return undefined;
  }
  try {
    return Object.fromEntries(Object.entries(optimizer.groupLearningRates()).map(([g, lr]) => [g, lr * config.lrScale]));
  } finally {
    optimizer.dispose();
  }
}

/**
 * What a run's config says apart from its seed, optimizer and learning rates, as named facets:
 * `text` is what a label shows when the facet sets a series apart, `value` what is compared.
 * Quiet facets (evaluation cadence, bookkeeping) separate series but are named only when nothing
 * louder tells two series apart.
 */
interface Facet {
  readonly name: string;
  readonly value: string;
  readonly text: string;
  readonly quiet?: boolean;
}

const show = (v: unknown) => (typeof v === 'number' ? fmt3(v) : typeof v === 'string' ? v : JSON.stringify(v));

/** A key → value object as facets: true → "key", false → "no key", otherwise "key value". */
function objectFacets(prefix: string, obj: Readonly<Record<string, unknown>>): Facet[] {
  return Object.keys(obj)
    .sort()
    .map((k) => {
      const v = obj[k];
      return { name: `${prefix}${k}`, value: JSON.stringify(v ?? null), text: v === true ? k : v === false ? `no ${k}` : `${k} ${show(v)}` };
    });
}

/** An optimizer's options without their learning rates (those are the series' LR, shown apart). */
function nonLrOptions(options: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (k === 'learningRate') continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const inner = nonLrOptions(v as Record<string, unknown>);
      if (Object.keys(inner).length > 0) out[k] = inner;
    } else out[k] = v;
  }
  return out;
}

const OPTION_PREFIX = 'optimizer.';

function facetsOf(c: RunConfig): Facet[] {
  const schedule = c.schedule as unknown as Readonly<Record<string, unknown>>;
  return [
    { name: 'steps', value: String(c.steps), text: `${c.steps} steps` },
    { name: 'schedule', value: JSON.stringify(schedule), text: `${String(schedule['kind'])} schedule` },
    { name: 'qkClip', value: JSON.stringify(c.qkClip ?? null), text: c.qkClip ? 'qkClip' : 'no qkClip' },
    ...objectFacets('model.', c.model as unknown as Readonly<Record<string, unknown>>),
    ...objectFacets(OPTION_PREFIX, nonLrOptions(c.optimizer.options)),
    { name: 'data', value: JSON.stringify(c.data), text: `data ${JSON.stringify(c.data)}` },
    { name: 'batchSize', value: String(c.batchSize), text: `batch ${c.batchSize}` },
    { name: 'evalEvery', value: String(c.evalEvery), text: `eval every ${c.evalEvery}`, quiet: true },
    { name: 'evalSize', value: String(c.evalSize), text: `eval size ${c.evalSize}`, quiet: true },
    { name: 'detectors', value: JSON.stringify(c.detectors), text: `detectors ${c.detectors.map((d) => d.name).join('/')}`, quiet: true },
    { name: 'divergenceFactor', value: String(c.divergenceFactor), text: `divergence ×${c.divergenceFactor}`, quiet: true },
  ];
}

/**
 * Runs that differ only in their seed: one series in a chart, one row in a table. Runs of
 * different tasks, optimizers, learning rates, precisions or any other setting (a study's arm) are
 * never pooled.
 */
export interface RunSeries {
  /** The task (experiment) the runs belong to. */
  readonly experiment: string;
  /** Optimizer label within the experiment ("muon"). */
  readonly optimizer: string;
  /** The main group's learning rate as used (spec LR × lrScale); undefined when not computable here. */
  readonly lr: number | undefined;
  /** "fp4" etc.; "fp32" for plain float32 runs. */
  readonly precision: string;
  /**
   * What sets these runs apart from the task's other runs, other than optimizer, LR and precision:
   * the arm of a study ("qkClip", "wsd schedule", "lrAdjust match_rms_adamw") or a tuning run's
   * horizon ("10 steps · cosine schedule"). Empty for the task's common setting.
   */
  readonly setting: string;
  /** The setting and a precision other than fp32 ("fp4"): everything but optimizer and LR. */
  readonly variant: string;
  /** "adamw lr 0.8": optimizer and the LR it ran with. */
  readonly name: string;
  /** The name with its variant: "adamw lr 0.8 · qkClip", "muon lr 8 · fp4". */
  readonly label: string;
  readonly runs: readonly LoadedRun[];
}

const SEP = ' · ';

/** The value a facet has in a config that does not set it (an option only an arm adds). */
const UNSET = '\u0000unset';

/** The most common value of each facet among the task's series (UNSET counted too): their common setting. */
function commonValues(groups: readonly Facet[][]): Map<string, string> {
  const names = new Set(groups.flatMap((facets) => facets.map((f) => f.name)));
  const counts = new Map<string, Map<string, number>>();
  for (const facets of groups) {
    for (const name of names) {
      const value = facets.find((f) => f.name === name)?.value ?? UNSET;
      const m = counts.get(name) ?? new Map<string, number>();
      m.set(value, (m.get(value) ?? 0) + 1);
      counts.set(name, m);
    }
  }
  const out = new Map<string, string>();
  for (const [name, m] of counts) {
    // Ties go to the value seen first, so the order of the run folders decides, not chance.
    let best = '';
    let bestN = -1;
    for (const [v, n] of m) if (n > bestN) [best, bestN] = [v, n];
    out.set(name, best);
  }
  return out;
}

/** The texts of the facets where a series departs from the common setting. */
function differingFacets(facets: readonly Facet[], common: ReadonlyMap<string, string>, quiet: boolean): string[] {
  return [
    ...facets.filter((f) => (f.quiet ?? false) === quiet && common.get(f.name) !== f.value).map((f) => f.text),
    // A facet most series set and this one does not (only loud ones: quiet facets are always set).
    ...(quiet ? [] : [...common].filter(([name, v]) => v !== UNSET && !facets.some((f) => f.name === name)).map(([name]) => `${name} unset`)),
  ];
}

/**
 * Group runs into series (see RunSeries), in a stable order: tasks as they first appear, then the
 * common setting before the others, then optimizer, then LR.
 */
export function runSeries(runs: readonly LoadedRun[]): RunSeries[] {
  const byKey = new Map<string, { run: LoadedRun; lrs: Record<string, number> | undefined; facets: Facet[]; runs: LoadedRun[] }>();
  for (const r of runs) {
    const lrs = runLearningRates(r.config);
    const facets = facetsOf(r.config);
    const key = JSON.stringify([
      r.config.experiment,
      r.config.label,
      r.config.optimizer.name,
      // Unknown optimizer: the raw options and scale still tell its LRs apart.
      lrs ? Object.entries(lrs).map(([g, lr]) => [g, fmt3(lr)]) : [r.config.optimizer.options, r.config.lrScale],
      precisionOf(r),
      facets.map((f) => [f.name, f.value]),
    ]);
    const hit = byKey.get(key);
    if (hit) hit.runs.push(r);
    else byKey.set(key, { run: r, lrs, facets, runs: [r] });
  }
  const groups = [...byKey.values()];
  const experiments = [...new Set(groups.map((g) => g.run.config.experiment))];
  const out: RunSeries[] = [];
  for (const experiment of experiments) {
    const mine = groups.filter((g) => g.run.config.experiment === experiment);
    // Optimizer options are compared among runs of the same optimizer (AdamW's weight decay is not
    // something Muon's runs lack); everything else among all the task's runs.
    const isOption = (f: Facet) => f.name.startsWith(OPTION_PREFIX);
    const taskCommon = commonValues(mine.map((g) => g.facets.filter((f) => !isOption(f))));
    const optionCommon = new Map(
      [...new Set(mine.map((g) => g.run.config.label))].map((label) => [
        label,
        commonValues(mine.filter((g) => g.run.config.label === label).map((g) => g.facets.filter(isOption))),
      ]),
    );
    const differing = (g: (typeof mine)[number], quiet: boolean) => {
      const common = new Map([...taskCommon, ...optionCommon.get(g.run.config.label)!]);
      return differingFacets(g.facets, common, quiet);
    };
    const named = mine.map((g) => {
      const precision = precisionOf(g.run);
      const lr = g.lrs ? Object.values(g.lrs)[0] : undefined;
      const name = `${g.run.config.label} lr ${lr === undefined ? '?' : fmt3(lr)}`;
      const precisionPart = isFullPrecision(g.run.config.precision ?? FP32) ? [] : [precision];
      return { g, precision, precisionPart, lr, name, parts: differing(g, false) };
    });
    // Two series that only quiet facets tell apart get those named too; the last resort numbers them.
    const labelOf = (n: (typeof named)[number]) => [n.name, ...n.parts, ...n.precisionPart].join(SEP);
    for (const n of named) {
      if (named.some((o) => o !== n && labelOf(o) === labelOf(n))) n.parts = [...n.parts, ...differing(n.g, true)];
    }
    const seen = new Map<string, number>();
    for (const n of named) {
      const base = labelOf(n);
      const k = (seen.get(base) ?? 0) + 1;
      seen.set(base, k);
      if (k > 1) n.parts = [...n.parts, `#${k}`];
    }
    const variantOf = (n: (typeof named)[number]) => [...n.parts, ...n.precisionPart].join(SEP);
    named.sort(
      (a, b) =>
        Number(variantOf(a) !== '') - Number(variantOf(b) !== '') ||
        variantOf(a).localeCompare(variantOf(b)) ||
        a.g.run.config.label.localeCompare(b.g.run.config.label) ||
        (a.lr ?? 0) - (b.lr ?? 0),
    );
    for (const n of named) {
      out.push({
        experiment,
        optimizer: n.g.run.config.label,
        lr: n.lr,
        precision: n.precision,
        setting: n.parts.join(SEP),
        variant: variantOf(n),
        name: n.name,
        label: labelOf(n),
        runs: n.g.runs,
      });
    }
  }
  return out;
}
