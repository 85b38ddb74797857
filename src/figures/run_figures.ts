/**
 * Figures of plain run folders (`view --html/--svg`, `npm start`): per experiment, the training
 * loss and eval loss with median/IQR over seeds per optimizer and learning rate, spike and
 * divergence markers, and the MoE balance and LM attention metrics when the runs record them. A
 * task's variants (a study's arms, precisions, tuning runs) are its panels, side by side.
 */
import { runSeries, type LoadedRun, type RunSeries } from '../train/run_dirs.js';
import { curvePanels, lossUnit, metricsPresent, recordsRunData, seedsPhrase, type RunData } from './curves.js';
import { seriesColours, shadesOf } from '../text/palette.js';
import { curveFigure, type Figure } from './specs.js';

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) m.set(key(it), [...(m.get(key(it)) ?? []), it]);
  return m;
}

/**
 * Colours of a task's series names, in legend order (optimizer, then LR): each optimizer keeps its
 * own colour (the report's), in shades from light (smallest LR) to dark (largest) when it ran at
 * several LRs, so a reader can tell the optimizer at a glance and the LR by the shade.
 */
function nameColours(series: readonly RunSeries[]): Map<string, string> {
  const optimizers = [...new Set(series.map((s) => s.optimizer))];
  const base = seriesColours(optimizers);
  const out = new Map<string, string>();
  for (const o of optimizers) {
    const byLr = new Map<string, number>();
    for (const s of series) if (s.optimizer === o) byLr.set(s.name, s.lr ?? Number.POSITIVE_INFINITY);
    const names = [...byLr].sort((a, b) => a[1] - b[1]).map(([name]) => name);
    const shades = shadesOf(base.get(o)!, names.length);
    names.forEach((name, i) => out.set(name, shades[i]!));
  }
  return out;
}

const toRunData = (r: LoadedRun): RunData => recordsRunData(r.config.seed, r.metrics, r.summary?.diverged === true);

const LEGEND_TITLE = 'optimizer and LR';

export function runFigures(runs: readonly LoadedRun[]): Figure[] {
  const figures: Figure[] = [];
  const push = (f: Figure | null) => void (f && figures.push(f));
  for (const [experiment, expSeries] of groupBy(runSeries(runs), (s) => s.experiment)) {
    const expRuns = expSeries.flatMap((s) => s.runs);
    // One panel per variant; within it one series per optimizer and LR, named without the variant
    // (the panel title carries it), so one name keeps one colour across the panels.
    const groups = [...groupBy(expSeries, (s) => s.variant)].map(([variant, ss]) => ({
      title: variant || (expSeries.some((s) => s.variant !== '') ? `${experiment} (common setting)` : experiment),
      series: ss.map((s) => ({ label: s.name, runs: s.runs.map(toRunData) })),
    }));
    const counts = expSeries.map((s) => s.runs.length);
    const diverged = expRuns.filter((r) => r.summary?.diverged).length;
    const unfinished = expRuns.filter((r) => !r.summary).length;
    const seedsText =
      `${seedsPhrase(counts)} per series` +
      (diverged ? `; ${diverged} of ${expRuns.length} runs diverged` : '') +
      (unfinished ? `; ${unfinished} unfinished (no summary.json)` : '');
    const unit = lossUnit(expRuns[0]!.config);
    const local = nameColours(expSeries);
    push(
      curveFigure({
        id: `loss-${experiment}`,
        section: experiment,
        title: `${experiment}: training loss`,
        caption: `Training loss per step (log scale), median over seeds (line) and interquartile range (band) of the runs still going, per optimizer and learning rate (the LR each run used); ▲ loss-spike events (any detector), ✕ divergences. ${seedsText}.`,
        panels: curvePanels(groups, 'loss', { spikes: true }),
        yTitle: `training loss (${unit})`,
        logY: true,
        colours: local,
        legendTitle: LEGEND_TITLE,
      }),
    );
    const all = groups.flatMap((g) => g.series.flatMap((s) => s.runs));
    if (all.some((r) => r.trace('evalLoss').values.length > 0)) {
      push(
        curveFigure({
          id: `eval-${experiment}`,
          section: experiment,
          title: `${experiment}: eval loss`,
          caption: `Held-out eval loss at each evaluation (log scale), median and interquartile range over seeds, per optimizer and learning rate; ✕ divergences. ${seedsText}.`,
          panels: curvePanels(groups, 'evalLoss', { spikes: false }),
          yTitle: `eval loss (${unit})`,
          logY: true,
          colours: local,
          legendTitle: LEGEND_TITLE,
        }),
      );
    }
    for (const m of metricsPresent(all)) {
      push(
        curveFigure({
          id: `${m.slug}-${experiment}`,
          section: experiment,
          title: `${experiment}: ${m.name}`,
          caption: `${m.why} Median and interquartile range over seeds per step. ${seedsText}.`,
          panels: curvePanels(groups, m.field, { spikes: false }),
          yTitle: m.yTitle,
          logY: m.logY,
          colours: local,
          legendTitle: LEGEND_TITLE,
        }),
      );
    }
  }
  return figures;
}
