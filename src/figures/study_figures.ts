/**
 * The study's figures, from its analysis: the tuning results, and the stress cells' runs with their
 * per-step records as the analysis loaded them (nothing is read again):
 * LR sensitivity, divergence rate and spikes per 1k steps against the LR multiplier with bootstrap
 * CIs, and per task the training loss, eval loss, MoE balance and (LM runs) attention statistics
 * over time at every multiplier.
 */
import { BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED } from '../study/compare.js';
import type { StudyResults } from '../study/results.js';
import { spikesPer1k } from '../study/stats.js';
import { fmt3, multLabel, stressStepsOf, taskOf, tuneStepsOf, type StudySpec, type StudyTask } from '../study/protocol.js';
import type { RunSummary } from '../train/run.js';
import { curvePanels, lossUnit, metricsPresent, seedsPhrase, type RunData } from './curves.js';
import { seriesColours } from '../text/palette.js';
import { curveFigure, lrSensitivityFigure, rateFigure, type Figure, type RatePanel } from './specs.js';
import { digestTrace, meanWithCI } from './traces.js';
import { forestFigure } from './forest.js';

interface StressRun extends RunData {
  readonly summary: RunSummary;
}

/**
 * The stress runs of one task with per-step records: multiplier → label → runs, as the analysis
 * loaded them (a run whose records are missing or damaged was reported there; a figure leaves it out).
 */
function stressRuns(r: StudyResults, task: string): Map<number, Map<string, StressRun[]>> {
  const out = new Map<number, Map<string, StressRun[]>>();
  for (const m of r.spec.stress.multipliers) {
    const cell = r.stress.find((c) => c.task === task && c.multiplier === m);
    const byLabel = new Map<string, StressRun[]>();
    for (const label of [r.spec.baseline, r.spec.treatment]) {
      const runs = cell?.runs[label] ?? [];
      byLabel.set(
        label,
        runs.flatMap((x) => {
          const digest = x.digest;
          if (!digest) return [];
          const { seed, diverged } = x.summary;
          return [{ seed, summary: x.summary, diverged, trace: (name: string) => digestTrace(seed, digest, name, diverged) }];
        }),
      );
    }
    out.set(m, byLabel);
  }
  return out;
}

export function studyFigures(r: StudyResults): Figure[] {
  const labels = [r.spec.baseline, r.spec.treatment];
  const colours = seriesColours(labels);
  const tasks = r.spec.tasks.map((t) => t.experiment);
  const seeds = r.spec.seeds.length;
  const mults = r.spec.stress.multipliers;
  const multList = mults.map(multLabel).join(', ');
  // Tasks may have their own horizons: one number when they agree, else one per task.
  const horizon = (of: (spec: StudySpec, task: StudyTask) => number) => {
    const each = r.spec.tasks.map((t) => [t.experiment, of(r.spec, t)] as const);
    return new Set(each.map(([, n]) => n)).size === 1 ? String(each[0]![1]) : each.map(([t, n]) => `${n} (${t})`).join(', ');
  };
  const figures: Figure[] = [];
  const push = (f: Figure | null) => void (f && figures.push(f));

  // ---- the answer first: the primary family's forest plot (v3 studies)
  if (r.primary) push(forestFigure(r.primary, r.spec.treatment, r.spec.baseline));

  // ---- LR sensitivity (tuning)
  const lrPanels = tasks.flatMap((task) => {
    const t = r.tuning[task];
    if (!t) return [];
    const series = labels.flatMap((label) => {
      const tr = t[label];
      return tr ? [{ label, tunedLr: tr.tunedLr, grid: tr.grid.map((g) => ({ lr: g.lr, loss: g.medianEvalLoss, diverged: g.diverged, n: g.n })) }] : [];
    });
    const initialLoss = Object.values(t)[0]?.initialLoss ?? NaN;
    return [{ title: `${task} (eval loss: ${lossUnit(r.experiments[task])})`, initialLoss, series }];
  });
  if (lrPanels.length > 0) {
    figures.push(
      lrSensitivityFigure({
        id: 'lr-sensitivity',
        section: 'LR sensitivity',
        title: 'LR sensitivity: final eval loss against the learning rate',
        caption:
          `Median over ${seeds} seeds of the final eval loss after ${horizon(tuneStepsOf)} tuning steps, at each grid LR, per optimizer and task (log–log). ` +
          `A diverged run counts as ℓ₀, the loss at initialisation (dashed line); ✕ marks grid points where at least one seed diverged; the ringed point is the tuned LR.`,
        panels: lrPanels,
        colours,
      }),
    );
  }

  // ---- rates against the multiplier (stress)
  const stress = new Map(tasks.map((task) => [task, stressRuns(r, task)]));
  let seed = BOOTSTRAP_SEED;
  const divPanels: RatePanel[] = tasks.map((task) => ({
    title: task,
    cells: mults.flatMap((m) =>
      labels.map((label) => {
        const runs = stress.get(task)!.get(m)!.get(label)!;
        return { multiplier: multLabel(m), label, ci: meanWithCI(runs.map((x) => (x.summary.diverged ? 1 : 0)), seed++, BOOTSTRAP_RESAMPLES) };
      }),
    ),
  }));
  figures.push(
    rateFigure({
      id: 'divergence-rate',
      section: 'Stress test',
      title: 'Divergence rate against the LR multiplier',
      caption:
        `Fraction of ${seeds} seeds that diverged (non-finite loss or loss above the divergence factor × the first loss) with a constant LR at ${multList} the tuned LR for ${horizon(stressStepsOf)} steps; ` +
        `bars are percentile-bootstrap 95% CIs of the mean (${BOOTSTRAP_RESAMPLES.toLocaleString('en-US')} resamples).`,
      yTitle: 'divergence rate (fraction)',
      unitInterval: true,
      panels: divPanels,
      multipliers: mults.map(multLabel),
      colours,
    }),
  );
  const detectors = r.detectors;
  if (detectors.length > 0) {
    const spikePanels: RatePanel[] = tasks.flatMap((task) =>
      detectors.map((d) => ({
        title: `${task} · ${d}`,
        cells: mults.flatMap((m) =>
          labels.map((label) => {
            const stable = stress.get(task)!.get(m)!.get(label)!.filter((x) => !x.summary.diverged);
            const rates = stable.map((x) => spikesPer1k(x.summary.spikes[d] ?? 0, Math.max(1, x.summary.steps)));
            return { multiplier: multLabel(m), label, ci: meanWithCI(rates, seed++, BOOTSTRAP_RESAMPLES) };
          }),
        ),
      })),
    );
    figures.push(
      rateFigure({
        id: 'spike-rates',
        section: 'Stress test',
        title: 'Loss spikes per 1k steps against the LR multiplier',
        caption:
          `Spike events per 1,000 completed steps, per detector (columns) and task (rows), over the runs that did not diverge (up to ${seeds} seeds; a missing point means every run diverged), ` +
          `at ${multList} the tuned LR; bars are percentile-bootstrap 95% CIs of the mean.`,
        yTitle: 'spikes per 1k steps',
        panels: spikePanels,
        multipliers: mults.map(multLabel),
        colours,
        columns: detectors.length,
      }),
    );
  }

  // ---- curves over time, per task
  for (const task of tasks) {
    const byMult = stress.get(task)!;
    // Each panel names the LRs it ran at, so a reader need not look the tuned LRs up.
    const lrsAt = (m: number) =>
      labels
        .flatMap((label) => {
          const tuned = r.tuning[task]?.[label]?.tunedLr;
          return tuned === undefined ? [] : [`${label} ${fmt3(tuned * m)}`];
        })
        .join(', ');
    const groups = mults.map((m) => ({
      title: `${multLabel(m)} tuned LR${lrsAt(m) ? ` (${lrsAt(m)})` : ''}`,
      series: labels.map((label) => ({ label, runs: byMult.get(m)!.get(label)! })),
    }));
    const all = groups.flatMap((g) => g.series.flatMap((s) => s.runs));
    if (all.length === 0) continue;
    const counts = groups.flatMap((g) => g.series.map((s) => s.runs.length));
    const diverged = all.filter((x) => x.diverged).length;
    const spec = r.experiments[task];
    const seedsText = `${seedsPhrase(counts)} per optimizer and multiplier${diverged ? `; ${diverged} of ${all.length} runs diverged` : ''}`;
    push(
      curveFigure({
        id: `loss-${task}`,
        section: 'Curves',
        title: `${task}: training loss at ${multList} the tuned LR`,
        caption:
          `Training loss per step (log scale; cross-entropy in nats, or MSE for regression), median over seeds (line) and interquartile range (band) of the runs still going, with a constant LR for ${stressStepsOf(r.spec, taskOf(r.spec, task)!)} steps; ` +
          `▲ loss-spike events (any detector, at that run's loss), ✕ divergences (at the run's last finite loss). ${seedsText}.`,
        panels: curvePanels(groups, 'loss', { spikes: true }),
        yTitle: `training loss (${lossUnit(spec)})`,
        logY: true,
        colours,
      }),
    );
    push(
      curveFigure({
        id: `eval-${task}`,
        section: 'Curves',
        title: `${task}: eval loss at ${multList} the tuned LR`,
        caption: `Held-out eval loss at each evaluation (log scale), median and interquartile range over seeds; ✕ marks a divergence at the run's last evaluation. ${seedsText}.`,
        panels: curvePanels(groups, 'evalLoss', { spikes: false }),
        yTitle: `eval loss (${lossUnit(spec)})`,
        logY: true,
        colours,
      }),
    );
    for (const m of metricsPresent(all)) {
      push(
        curveFigure({
          id: `${m.slug}-${task}`,
          section: m.field === 'maxVio' || m.field === 'routerMaxLogit' ? 'MoE balance' : 'Attention',
          title: `${task}: ${m.name} at ${multList} the tuned LR`,
          caption: `${m.why} Median and interquartile range over seeds per step. ${seedsText}.`,
          panels: curvePanels(groups, m.field, { spikes: false }),
          yTitle: m.yTitle,
          logY: m.logY,
          colours,
        }),
      );
    }
  }
  return figures;
}
