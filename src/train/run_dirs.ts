/**
 * Finding and loading saved run folders (config.json + metrics.jsonl, summary.json when finished),
 * and the name a run's series carries in charts and figures. Shared by the terminal views, the
 * HTML/SVG figures and the browser checks, so all of them read run files the same way.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
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

// Three significant digits: a scale of 0.2/1e-3·… prints as 0.2, not 0.19999999999999998.
export const optimizerLabel = (r: LoadedRun) => (r.config.lrScale === 1 ? r.config.label : `${r.config.label}×${Number(r.config.lrScale.toPrecision(3))}`);

/** A run's series name: its optimizer label, ×LR scale when it is not 1, @precision when not fp32. */
export const seriesLabel = (r: LoadedRun) =>
  isFullPrecision(r.config.precision ?? FP32) ? optimizerLabel(r) : `${optimizerLabel(r)}@${precisionOf(r)}`;

