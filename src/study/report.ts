/** REPORT.md from StudyResults: protocol, tuned LRs, sensitivity, stress tables, balance, curves, claim check. */
import { renderChart } from '../cli/chart.js';
import { formatNumber, renderTable } from '../cli/table.js';
import { DEFAULT_DIVERGENCE_FACTOR } from '../train/config.js';
import { DETECTOR_DEFAULTS_DOC } from '../train/spikes.js';
import { BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, MIN_STABLE_RUNS, type Comparison, type StudyResults } from './analyze.js';
import type { Summary } from './stats.js';

/** REFERENCE §8, quoted verbatim in every report. */
export const CLAIM =
  'Muon stabilises training at scale, reducing the divergence and loss spikes that AdamW shows in late-stage training of large MoE models.';

const f = (x: number | null | undefined) => formatNumber(x ?? null);
const medIqr = (s: Summary | null | undefined) => (s ? `${f(s.median)} [${f(s.q1)}–${f(s.q3)}]` : '—');
const spikeCell = (s: Summary | undefined) => (s ? `${medIqr(s)} (n=${s.n})` : '— (all diverged)');
const ci = (c: Comparison | undefined) => (c ? `${f(c.estimate)} [${f(c.lo)}, ${f(c.hi)}]` : '—');
const mult = (m: number) => `${Number(m.toPrecision(3))}×`;

function protocol(r: StudyResults): string {
  const s = r.spec;
  const grids = Object.entries(s.tune.grid)
    .map(([label, g]) => `  - ${label}: ${g.map(f).join(', ')} (${g.length} points, ${f(Math.log10(g[g.length - 1]! / g[0]!))} decades)`)
    .join('\n');
  const tasks = s.tasks
    .map((t) => {
      const e = r.experiments[t.experiment];
      const model = t.model ?? e?.model;
      return `  - **${t.experiment}**: ${e?.description ?? ''}${t.model ? ` — model overridden: ${JSON.stringify(model)}` : ''}`;
    })
    .join('\n');
  return [
    '## Protocol',
    '',
    `- Study **${s.name}**: ${s.description}.`,
    `- Comparison: **${s.treatment}** (treatment) vs **${s.baseline}** (baseline); every difference below is ${s.treatment} − ${s.baseline}, and lower is better for every metric.`,
    `- Tasks:\n${tasks}`,
    `- Seeds: ${s.seeds.join(', ')} (n = ${s.seeds.length}), the same for every optimizer, LR and multiplier.`,
    `- Tuning: ${s.tune.steps} steps with each experiment's own schedule; LR grids (each optimizer its own):\n${grids}`,
    '  The tuned LR is the grid LR with the best median final eval loss over seeds; a diverged run counts as its initial loss.',
    `- Stress: constant LR at ${s.stress.multipliers.map(mult).join(', ')} each optimizer's tuned LR for ${s.stress.steps} steps. For Muon the multiplier scales every parameter group (its internal AdamW too).`,
    `- Divergence: non-finite loss, or loss above ${DEFAULT_DIVERGENCE_FACTOR}× the first step's loss; a diverged run stops and is counted, never dropped.`,
    `- Spike rates (events per 1k completed steps) are compared over runs that did not diverge, and only where each side has at least ${MIN_STABLE_RUNS}: a run that blew up early has few spikes, which says nothing about stability. Divergence is its own endpoint.`,
    '- Spike detectors (events: a run of consecutive flagged steps counts once; "gradnorm" is the grad-norm spike count):',
    DETECTOR_DEFAULTS_DOC.split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
    `- Statistics: median [IQR] per cell; for each difference, the difference of means with a percentile bootstrap 95% CI (${BOOTSTRAP_RESAMPLES} resamples per group, seed ${BOOTSTRAP_SEED}); P(${s.treatment} better) = Mann–Whitney U/(m·n) (ties count ½) with its two-sided p-value (exact without ties and n < 50, else normal approximation with tie correction).`,
    `- Backend${r.backends.length > 1 ? 's' : ''}: ${r.backends.join(', ') || '—'}${r.backends.length > 1 ? ' (mixed: numbers differ slightly between backends)' : ''}.`,
    `- Runs found: ${r.runsFound} of ${r.runsExpected}.${r.missing.length ? ` **Missing ${r.missing.length}** (first: ${r.missing.slice(0, 3).join(', ')}): the numbers below use what is there.` : ''}`,
  ].join('\n');
}

function tuningSection(r: StudyResults): string {
  const rows: string[][] = [];
  const sens: string[][] = [];
  const edges: string[] = [];
  for (const [task, byLabel] of Object.entries(r.tuning)) {
    for (const [label, t] of Object.entries(byLabel)) {
      const at = t.grid.find((g) => g.lr === t.tunedLr);
      const edge = t.tunedLr === t.grid[0]?.lr || t.tunedLr === t.grid[t.grid.length - 1]?.lr;
      if (edge) edges.push(`${task}/${label}`);
      rows.push([
        task,
        label,
        `${f(t.tunedLr)}${edge ? ' (grid edge)' : ''}`,
        f(at?.medianEvalLoss),
        t.grid.map((g) => `${f(g.lr)}: ${f(g.medianEvalLoss)}${g.diverged ? ` (${g.diverged}/${g.n} div)` : ''}`).join('; '),
      ]);
      sens.push([task, label, f(t.sensitivity), f(t.bestLoss), f(t.initialLoss)]);
    }
  }
  return [
    '## Tuned learning rates',
    '',
    renderTable(['task', 'optimizer', 'tuned LR', 'median eval loss', 'grid (LR: median final eval loss)'], rows),
    '',
    ...(edges.length
      ? [
          `**Warning:** the tuned LR sits at the edge of its grid for ${edges.join(', ')}: the optimum may lie outside the grid, so widen it before trusting the comparison.`,
          '',
        ]
      : []),
    '## LR sensitivity',
    '',
    'Wortsman et al. 2023: E_η[min(ℓ(η), ℓ₀) − ℓ*] over the grid, ℓ(η) the median final eval loss at η, ℓ₀ the loss at initialisation, ℓ* the best over the grid; a diverged run counts as ℓ₀. Lower means the optimizer is less sensitive to its LR.',
    '',
    renderTable(['task', 'optimizer', 'LR sensitivity', 'ℓ* (best)', 'ℓ₀ (init)'], sens),
  ].join('\n');
}

function stressSection(r: StudyResults): string {
  const { baseline: b, treatment: t } = r.spec;
  const parts = ['## Stress test: spikes per 1k steps and divergence', ''];
  for (const task of r.spec.tasks.map((x) => x.experiment)) {
    const cells = r.stress.filter((c) => c.task === task);
    const rows: string[][] = [];
    for (const c of cells) {
      const B = c.byLabel[b];
      const T = c.byLabel[t];
      const d = c.divergence;
      rows.push([
        mult(c.multiplier),
        'divergence rate',
        B ? `${f(B.divergenceRate)} (${B.diverged}/${B.n})` : '—',
        T ? `${f(T.divergenceRate)} (${T.diverged}/${T.n})` : '—',
        ci(d),
        d ? f(d.probTreatmentBetter) : '—',
        d ? f(d.pValue) : '—',
      ]);
      for (const det of r.detectors) {
        const sc = c.spikes[det];
        rows.push([
          mult(c.multiplier),
          `spikes/1k (${det})`,
          spikeCell(B?.spikesPer1k[det]),
          spikeCell(T?.spikesPer1k[det]),
          ci(sc),
          sc ? f(sc.probTreatmentBetter) : '—',
          sc ? f(sc.pValue) : '—',
        ]);
      }
      rows.push([mult(c.multiplier), 'final eval loss (runs that did not diverge)', medIqr(B?.finalEvalLoss), medIqr(T?.finalEvalLoss), '', '', '']);
    }
    parts.push(
      `### ${task}`,
      '',
      renderTable(['LR', 'metric', `${b} median [IQR]`, `${t} median [IQR]`, `Δ ${t}−${b} (mean) [95% CI]`, `P(${t} better)`, 'p'], rows),
      '',
    );
  }
  return parts.join('\n');
}

function balanceSection(r: StudyResults): string {
  const parts = ['## MoE balance over time', ''];
  const tasks = Object.keys(r.balance);
  if (tasks.length === 0) return [...parts, 'No MoE task in this study.'].join('\n');
  parts.push(
    'Each column is a tenth of the planned stress horizon (mean over its steps, median over the seeds still running; — once all diverged). MaxVio = (max load − mean load)/mean load; router max |logit| growth = last tenth ÷ first tenth.',
    '',
  );
  for (const task of tasks) {
    const rows: string[][] = [];
    for (const [label, byMult] of Object.entries(r.balance[task]!)) {
      for (const [m, trace] of Object.entries(byMult)) {
        rows.push([label, `${m}×`, 'MaxVio', ...trace.maxVio.map(f), '']);
        rows.push([label, `${m}×`, 'router max |logit|', ...trace.routerMaxLogit.map(f), f(trace.logitGrowth)]);
        rows.push([label, `${m}×`, 'dead experts', ...trace.deadExperts.map(f), '']);
      }
    }
    parts.push(
      `### ${task}`,
      '',
      renderTable(['optimizer', 'LR', 'metric', ...Array.from({ length: 10 }, (_, i) => `${(i + 1) * 10}%`), 'growth'], rows),
      '',
    );
  }
  return parts.join('\n');
}

function curvesSection(r: StudyResults): string {
  const parts = ['## Representative curves', '', 'Training loss, median over seeds, at 1× and at the largest multiplier.', ''];
  for (const [task, byMult] of Object.entries(r.curves)) {
    const mults = Object.keys(byMult).sort((a, b) => Number(a) - Number(b));
    for (const m of [...new Set([mults[0]!, mults[mults.length - 1]!])]) {
      const series = Object.entries(byMult[m]!).map(([label, c]) => ({
        label,
        values: c.values,
        note: `${c.n} seeds${c.diverged ? `, ${c.diverged} diverged (curve = median of the runs still going)` : ''}`,
      }));
      parts.push('```', renderChart(series, { width: 90, height: 10, color: false, logY: true, title: `${task} at ${m}× tuned LR` }), '```', '');
    }
  }
  return parts.join('\n');
}

function claimSection(r: StudyResults): string {
  const { baseline: b, treatment: t } = r.spec;
  const forT = r.endpoints.filter((e) => e.favours === 'treatment');
  const forB = r.endpoints.filter((e) => e.favours === 'baseline');
  const line = (e: (typeof r.endpoints)[number]) =>
    `  - ${e.task} at ${mult(e.multiplier)}, ${e.metric}: Δ = ${ci(e.comparison)}, P(${t} better) = ${f(e.comparison.probTreatmentBetter)}, p = ${f(e.comparison.pValue)}`;
  const verdictText = {
    supported: `**Supported at this scale**: at least one endpoint's 95% CI lies entirely below 0 (${t} better) and none lies entirely above 0.`,
    contradicted: `**Contradicted at this scale**: at least one endpoint's 95% CI lies entirely above 0 (${b} better) and none lies entirely below 0.`,
    inconclusive:
      forT.length && forB.length
        ? `**Inconclusive at this scale**: some endpoints favour ${t} and others ${b}.`
        : `**Inconclusive at this scale**: every endpoint's 95% CI includes 0.`,
  }[r.verdict];
  return [
    '## Claim check',
    '',
    `> ${CLAIM}`,
    '> — the claim under test (REFERENCE §8)',
    '',
    `Endpoints: for every task and LR multiplier, the ${t} − ${b} difference in divergence rate and in spikes per 1k steps for each detector (${r.endpoints.length} endpoints). Rule: *supported* if at least one CI lies below 0 and none above; *contradicted* if at least one lies above and none below; otherwise *inconclusive*.`,
    '',
    `- Endpoints favouring ${t} (CI below 0): ${forT.length}${forT.length ? `\n${forT.map(line).join('\n')}` : ''}`,
    `- Endpoints favouring ${b} (CI above 0): ${forB.length}${forB.length ? `\n${forB.map(line).join('\n')}` : ''}`,
    `- Endpoints whose CI includes 0: ${r.endpoints.length - forT.length - forB.length}`,
    '',
    `Verdict: ${verdictText}`,
    '',
    '### Limits of a small-scale test',
    '',
    `- Scale: models of ~10⁴–10⁵ parameters trained for ${r.spec.stress.steps} steps on a CPU, not billion-parameter MoE models over trillions of tokens; this tests the direction of the claim, not its magnitude at scale (REFERENCE §8).`,
    `- Seeds: n = ${r.spec.seeds.length} per cell, so CIs are wide and a bootstrap over so few values is itself approximate; ${r.endpoints.length} endpoints are tested without a multiplicity correction, so one CI excluding 0 by chance is plausible.`,
    '- "Late-stage" is emulated by a constant LR held at multiples of the tuned LR; real late-stage instabilities (attention-logit growth, MoE outlier activations, data-order effects) have no counterpart in an MLP or a one-layer MoE.',
    '- Spike detectors are relative thresholds tuned for minibatch noise at this scale; the counts depend on those thresholds (see Protocol), and Muon and AdamW reach different loss levels, which changes the noise each detector sees.',
    '- Muon here is plain Muon (no QK-clip, no RMS matching unless configured); Kimi K2 and Moonlight changes that bear on stability are not tested.',
  ].join('\n');
}

/** `figures`: the Markdown that embeds the SVG figures (src/figures/output.ts), placed before the claim check. */
export function renderReport(r: StudyResults, figures = ''): string {
  return [
    `# Stability study report: ${r.spec.name}`,
    '',
    protocol(r),
    '',
    tuningSection(r),
    '',
    stressSection(r),
    '',
    balanceSection(r),
    '',
    curvesSection(r),
    '',
    ...(figures ? [figures, ''] : []),
    claimSection(r),
    '',
  ].join('\n');
}
