/**
 * Re-draw saved runs: load run directories, group them by experiment and optimizer, and render a
 * loss chart per experiment (median over seeds, one series per optimizer) and a summary table.
 * Used after training and by `view`, so both show exactly what the files say.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RunConfig } from '../train/config.js';
import type { StepRecord } from '../train/loop.js';
import type { RunSummary } from '../train/run.js';
import { CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, readJSON, readMetrics } from '../train/run_files.js';
import { medianPerIndex, summarize } from '../study/stats.js';
import { renderChart, type ChartSeries } from './chart.js';
import { formatNumber, renderTable } from './table.js';
import { UsageError } from './args.js';
import { FP32, isFullPrecision, precisionLabel } from '../precision/qat.js';
import { groupLearningRates } from '../study/tuned_record.js';
import { loadSummary, warnToStderr } from '../train/run_readers.js';

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

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    m.set(k, [...(m.get(k) ?? []), it]);
  }
  return m;
}

/** Runs from before precision existed are float32. */
const precisionOf = (r: LoadedRun) => precisionLabel(r.config.precision ?? FP32);

// Three significant digits: a scale of 0.2/1e-3·… prints as 0.2, not 0.19999999999999998.
const optimizerLabel = (r: LoadedRun) => (r.config.lrScale === 1 ? r.config.label : `${r.config.label}×${Number(r.config.lrScale.toPrecision(3))}`);

/** A run's series name: its optimizer label, ×LR scale when it is not 1, @precision when not fp32. */
export const seriesLabel = (r: LoadedRun) =>
  isFullPrecision(r.config.precision ?? FP32) ? optimizerLabel(r) : `${optimizerLabel(r)}@${precisionOf(r)}`;

function spikeTotals(runs: readonly LoadedRun[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.summary?.spikes ?? {})) totals[k] = (totals[k] ?? 0) + v;
  return totals;
}

export interface ViewOptions {
  width?: number;
  height?: number;
  logY?: boolean;
  smooth?: number;
  color?: boolean;
}

/** One chart per experiment: the training loss, median over seeds, a series per optimizer. */
export function renderCharts(runs: readonly LoadedRun[], options: ViewOptions = {}): string {
  const parts: string[] = [];
  for (const [experiment, expRuns] of groupBy(runs, (r) => r.config.experiment)) {
    const series: ChartSeries[] = [];
    for (const [label, group] of groupBy(expRuns, seriesLabel)) {
      const curve = medianPerIndex(group.map((r) => r.metrics.map((m) => (m.loss === null ? NaN : m.loss))));
      const spikes = Object.entries(spikeTotals(group))
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      const diverged = group.filter((r) => r.summary?.diverged).length;
      series.push({
        label,
        values: curve,
        note: `${group.length} seed${group.length === 1 ? '' : 's'}${diverged ? `, ${diverged} diverged` : ''}; spikes ${spikes || 'n/a'}`,
      });
    }
    parts.push(
      renderChart(series, {
        ...options,
        title: `${experiment}: training loss (median over seeds)${options.logY ? ', log scale' : ''}`,
      }),
    );
  }
  return parts.join('\n\n');
}

function cell(values: readonly (number | null | undefined)[]): string {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (xs.length === 0) return '—';
  const s = summarize(xs);
  return xs.length === 1 ? formatNumber(s.median) : `${formatNumber(s.median)} [${formatNumber(s.q1)}–${formatNumber(s.q3)}]`;
}

/** A run's source of LRs when its config does not say (runs written before sources were recorded). */
const UNKNOWN_SOURCE = 'source not recorded';

/**
 * "0.1 (adamw 0.015), tuned: 7-point grid, 5 seeds": the main group's LR, any other group's, and
 * where they come from, as the run's config.json records them (× its lrScale).
 */
export function lrCell(config: RunConfig): string {
  let lrs: Record<string, number>;
  try {
    lrs = groupLearningRates(config.optimizer);
  } catch {
    return `? (${config.optimizer.name} is not registered here)`;
  }
  const [main, ...rest] = Object.entries(lrs).map(([g, lr]) => [g, lr * config.lrScale] as const);
  const others = rest.length ? ` (${rest.map(([g, lr]) => `${g} ${formatNumber(lr)}`).join(', ')})` : '';
  return `${formatNumber(main![1])}${others}, ${config.optimizer.lrSource ?? UNKNOWN_SOURCE}`;
}

/** Median [IQR] over seeds per experiment × optimizer. */
export function renderSummaryTable(runs: readonly LoadedRun[]): string {
  const detectorNames = [...new Set(runs.flatMap((r) => Object.keys(r.summary?.spikes ?? {})))];
  const headers = [
    'experiment',
    'optimizer',
    'precision',
    'lr, source',
    'seeds',
    'final loss',
    'eval loss',
    'eval acc',
    ...(runs.some((r) => r.summary?.evalBpc != null) ? ['eval bpc'] : []),
    ...detectorNames.map((d) => `spikes:${d}`),
    'diverged',
    's/run',
  ];
  const rows: string[][] = [];
  for (const [key, group] of groupBy(runs, (r) => `${r.config.experiment}\u0000${seriesLabel(r)}`)) {
    const [experiment] = key.split('\u0000') as [string, string];
    const done = group.filter((r) => r.summary);
    const sums = done.map((r) => r.summary!);
    rows.push([
      experiment,
      optimizerLabel(group[0]!),
      precisionOf(group[0]!),
      lrCell(group[0]!.config),
      `${done.length}${done.length < group.length ? ` (+${group.length - done.length} unfinished)` : ''}`,
      cell(sums.map((s) => s.finalLoss)),
      cell(sums.map((s) => s.evalLoss)),
      sums.some((s) => s.evalAcc != null) ? cell(sums.map((s) => s.evalAcc)) : '—',
      ...(runs.some((r) => r.summary?.evalBpc != null) ? [sums.some((s) => s.evalBpc != null) ? cell(sums.map((s) => s.evalBpc)) : '—'] : []),
      ...detectorNames.map((d) => cell(sums.map((s) => s.spikes[d] ?? null))),
      `${sums.filter((s) => s.diverged).length}/${sums.length}`,
      cell(sums.map((s) => s.wallSeconds)),
    ]);
  }
  return `${renderTable(headers, rows)}\n(median [q1–q3] over seeds; spikes are events per run)`;
}

export function renderRuns(runs: readonly LoadedRun[], options: ViewOptions = {}): string {
  return `${renderCharts(runs, options)}\n\n${renderSummaryTable(runs)}`;
}
