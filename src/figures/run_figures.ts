/**
 * Figures of plain run folders (`view --html/--svg`, `npm start`): per experiment, the training
 * loss and eval loss with median/IQR over seeds per optimizer and learning rate, spike and
 * divergence markers, and the MoE balance and LM attention metrics when the runs record them. A
 * task's variants (a study's arms, precisions, tuning runs) are its panels, side by side.
 */
import { runSeries, type LoadedRun } from '../train/run_dirs.js';
import { curvePanels, lossUnit, metricsPresent, seedsPhrase, type RunData } from './curves.js';
import { seriesColours } from '../text/palette.js';
import { curveFigure, type Figure } from './specs.js';

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) m.set(key(it), [...(m.get(key(it)) ?? []), it]);
  return m;
}

const toRunData = (r: LoadedRun): RunData => ({ seed: r.config.seed, records: r.metrics, diverged: r.summary?.diverged === true });

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
    // Assigned per experiment in series order: with one variant, exactly as the terminal chart of the
    // same runs does; with several, one series name has one colour in every panel.
    const local = seriesColours([...new Set(expSeries.map((s) => s.name))]);
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
      }),
    );
    const all = groups.flatMap((g) => g.series.flatMap((s) => s.runs));
    if (all.some((r) => r.records.some((x) => typeof x.evalLoss === 'number'))) {
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
        }),
      );
    }
  }
  return figures;
}
