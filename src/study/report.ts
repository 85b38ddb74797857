/**
 * REPORT.md from StudyResults: the verdicts (verdict_section.ts), the protocol (protocol_section.ts),
 * the detector calibration the spec records (calibration_section.ts), tuned LRs, sensitivity, stress
 * tables, study v3's exploratory phases (ladder_section.ts, long_section.ts, width_section.ts,
 * control_section.ts, mechanism_section.ts, noise_section.ts: each only when the study has the phase),
 * balance, curves, then the claim check (claim_section.ts).
 */
import { renderChart } from '../text/chart.js';
import { renderTable } from '../text/table.js';
import type { Comparison, StressCell, StudyResults } from './results.js';
import { CURVE_POINTS, GROWTH_SIGNALS, MIN_GROWTH_POINTS } from './digest.js';
import { ARMS } from './arms.js';
import { claimSection } from './claim_section.js';
import { controlSection } from './control_section.js';
import { mechanismSection } from './mechanism_section.js';
import { calibrationSection } from './calibration_section.js';
import { noiseSection } from './noise_section.js';
import { ladderSection } from './ladder_section.js';
import { longSection } from './long_section.js';
import { protocolSection } from './protocol_section.js';
import { verdictSection } from './verdict_section.js';
import { widthSection } from './width_section.js';
import { multLabel } from './protocol.js';
import { adj, ci, num, medIqr, pct, spikeCell } from './report_format.js';
import { FAMILY_ALPHA } from './stats.js';
import { unfinishedNote } from './unfinished.js';
import { ELIGIBILITY_RULE } from './tuning.js';

function tuningSection(r: StudyResults): string {
  const rows: string[][] = [];
  const sens: string[][] = [];
  const edges: string[] = [];
  for (const [task, byLabel] of Object.entries(r.tuning)) {
    for (const [label, t] of Object.entries(byLabel)) {
      const at = t.grid.find((g) => g.lr === t.tunedLr);
      const edge = t.tunedLr === t.grid[0]?.lr || t.tunedLr === t.grid[t.grid.length - 1]?.lr;
      if (edge) edges.push(`${task}/${label}`);
      const best = t.grid.find((g) => g.lr === t.bestScoringLr);
      rows.push([
        task,
        label,
        `${num(t.tunedLr)}${edge ? ' (grid edge)' : ''}${t.noEligibleLr ? ' (no LR free of divergence)' : ''}`,
        num(at?.medianEvalLoss),
        t.bestScoringLr === t.tunedLr ? 'same' : `${num(t.bestScoringLr)}: ${num(best?.medianEvalLoss)} (${best?.diverged}/${best?.n} div, not eligible)`,
        t.grid.map((g) => `${num(g.lr)}: ${num(g.medianEvalLoss)}${g.diverged ? ` (${g.diverged}/${g.n} div)` : ''}`).join('; '),
      ]);
      sens.push([task, label, num(t.sensitivity), num(t.bestLoss), num(t.initialLoss)]);
    }
  }
  return [
    '## Tuned learning rates',
    '',
    renderTable(['task', 'optimizer', 'tuned LR', 'median eval loss', 'best-scoring LR', 'grid (LR: median final eval loss)'], rows),
    '',
    `Rule: ${ELIGIBILITY_RULE}. "Best-scoring LR" is the best median over the whole grid when it differs from the tuned LR. If every LR diverged in some seed, the candidates are the LRs with the fewest diverged runs.`,
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

/** The rows of one cell: rates, spikes (whole run and last half), final eval loss, each with its comparison. */
function cellRows(r: StudyResults, c: StressCell): string[][] {
  const { baseline: b, treatment: t } = r.spec;
  const B = c.byLabel[b];
  const T = c.byLabel[t];
  const stats = (x: Comparison | undefined) => [ci(x), adj(x), x ? num(x.probTreatmentBetter) : '—', x ? num(x.pValue) : '—', x ? num(x.pHolm) : '—'];
  const rate = (n: number | undefined, k: number | undefined) => (n === undefined || k === undefined ? '—' : `${num(k / n)} (${k}/${n})`);
  const reasons = (cell: typeof B) =>
    cell && cell.failed > cell.diverged
      ? ` [${Object.entries(cell.failureReasons)
          .filter(([why]) => why !== 'diverged')
          .map(([why, k]) => `${k} ${why}`)
          .join(', ')}]`
      : '';
  const rows: string[][] = [
    [multLabel(c.multiplier), 'divergence rate', rate(B?.n, B?.diverged), rate(T?.n, T?.diverged), ...stats(c.divergence)],
    [multLabel(c.multiplier), 'failure rate', `${rate(B?.n, B?.failed)}${reasons(B)}`, `${rate(T?.n, T?.failed)}${reasons(T)}`, ...stats(c.failure)],
    [multLabel(c.multiplier), 'steps lost to divergence', medIqr(B?.stepsLost), medIqr(T?.stepsLost), ...stats(c.stepsLost)],
  ];
  for (const det of r.detectors) {
    rows.push([multLabel(c.multiplier), `spikes/1k (${det})`, spikeCell(B?.spikesPer1k[det], B), spikeCell(T?.spikesPer1k[det], T), ...stats(c.spikes[det])]);
  }
  for (const det of r.detectors) {
    rows.push([
      multLabel(c.multiplier),
      `late spikes/1k (${det})`,
      spikeCell(B?.lateSpikesPer1k[det], B),
      spikeCell(T?.lateSpikesPer1k[det], T),
      ...stats(c.lateSpikes[det]),
    ]);
  }
  rows.push([multLabel(c.multiplier), 'final eval loss', medIqr(B?.finalEvalLoss), medIqr(T?.finalEvalLoss), ...stats(c.finalEval)]);
  return rows;
}

function cellHeader(r: StudyResults, baselineNote = ''): string[] {
  const { baseline: b, treatment: t } = r.spec;
  return [
    'LR',
    'metric',
    `${b}${baselineNote} median [IQR]`,
    `${t} median [IQR]`,
    `Δ ${t}−${b} (mean) [95% CI]`,
    `family-wise ${pct(r.familyConfidence)}`,
    `P(${t} better)`,
    'p',
    'p (Holm)',
  ];
}

function stressSection(r: StudyResults): string {
  const parts = [
    '## Stress test: spikes per 1k steps, divergence and failure',
    '',
    '"late spikes" count the events that start in the last half of the horizon, per 1k steps of that half. Spike medians are over the runs that did not diverge (n shown); the final eval loss median too, while its Δ counts a diverged run as its initial loss. "steps lost to divergence" is the horizon minus the step a run diverged at (0 if it did not): the horizon minus the restricted mean survival time.',
    '',
  ];
  for (const task of r.spec.tasks.map((x) => x.experiment)) {
    const rows = r.stress.filter((c) => c.task === task).flatMap((c) => cellRows(r, c));
    parts.push(`### ${task}`, '', renderTable(cellHeader(r), rows), '');
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
        rows.push([label, `${m}×`, 'MaxVio', ...trace.maxVio.map(num), '']);
        rows.push([label, `${m}×`, 'router max |logit|', ...trace.routerMaxLogit.map(num), num(trace.logitGrowth)]);
        rows.push([label, `${m}×`, 'dead experts', ...trace.deadExperts.map(num), '']);
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
  const parts = ['## Representative curves', '', `Training loss at 1× and at the largest multiplier: per bucket of ⌈steps/${CURVE_POINTS}⌉ steps, the median over seeds of each run's mean loss in the bucket.`, ''];
  for (const [task, byMult] of Object.entries(r.curves)) {
    const mults = Object.keys(byMult).sort((a, b) => Number(a) - Number(b));
    for (const m of [...new Set([mults[0]!, mults[mults.length - 1]!])]) {
      const curves = Object.entries(byMult[m]!);
      const series = curves.map(([label, c]) => ({
        label,
        values: c.values,
        note: `${c.n} seeds${c.diverged ? `, ${c.diverged} diverged (curve = median of the runs still going)` : ''}`,
      }));
      parts.push('```', renderChart(series, { width: 90, height: 10, color: false, logY: true, title: `${task} at ${m}× tuned LR`, stepsPerValue: curves[0]![1].stepsPerValue }), '```', '');
    }
  }
  return parts.join('\n');
}

function survivalSection(r: StudyResults): string {
  const { baseline: b, treatment: t } = r.spec;
  const parts = [
    '## Time to divergence (Kaplan–Meier)',
    '',
    `Each run is an observation: the step it diverged at (an event), or censored where it stopped without diverging (the horizon). Median = the first step where the Kaplan–Meier survival Ŝ(t) ≤ ½ ("not reached" when fewer than half diverged). Log-rank test of ${t} against ${b} (χ², 1 df), p raw and Holm-adjusted.`,
    '',
  ];
  const rows: string[][] = [];
  for (const c of [...r.stress, ...r.armCells]) {
    if (!c.survival) continue;
    const cell = (label: string) => {
      const k = c.survival!.byLabel[label];
      if (!k) return ['—', '—', '—'];
      const end = k.steps.length ? k.steps[k.steps.length - 1]!.survival : 1;
      return [`${k.events}/${k.n}`, k.median === null ? 'not reached' : String(k.median), num(end)];
    };
    const lr = c.survival.logRank;
    rows.push([c.task, c.arm, multLabel(c.multiplier), ...cell(b), ...cell(t), num(lr.chiSquare), num(lr.pValue), num(lr.pHolm)]);
  }
  if (rows.length === 0) return [...parts, 'No cell with runs of both optimizers.'].join('\n');
  parts.push(
    renderTable(
      ['task', 'arm', 'LR', `${b} diverged`, `${b} median step`, `${b} Ŝ(end)`, `${t} diverged`, `${t} median step`, `${t} Ŝ(end)`, 'log-rank χ²', 'p', 'p (Holm)'],
      rows,
    ),
  );
  return parts.join('\n');
}

function growthSection(r: StudyResults): string {
  const parts = [
    '## Growth of per-step signals over the last half',
    '',
    `Per run, the least-squares slope of ln(signal) against step over the last half of its horizon (points where the signal is finite and > 0; runs with ≥ ${MIN_GROWTH_POINTS} such points), × 1000: log-units per 1k steps, so 0 is flat and 0.69 doubles every 1k steps. Median [IQR] over seeds; "×/1k" is e^median. Signals, where a task records them: ${GROWTH_SIGNALS.join(', ')} (maxAttnLogit and outputLogZ come with the language models).`,
    '',
  ];
  const shown = r.growth.filter((g) => g.runs > 0);
  if (shown.length === 0) return [...parts, 'No signal recorded.'].join('\n');
  parts[2] += ' Cells where every run diverged before enough of its last half are left out.';
  const rows = shown.map((g) => [
    g.task,
    g.signal,
    g.arm,
    g.label,
    multLabel(g.multiplier),
    g.slopePer1k ? medIqr(g.slopePer1k) : '—',
    g.slopePer1k ? num(Math.exp(g.slopePer1k.median)) : '—',
    String(g.runs),
  ]);
  parts.push(renderTable(['task', 'signal', 'arm', 'optimizer', 'LR', 'slope of ln per 1k steps, median [IQR]', '×/1k', 'runs'], rows));
  return parts.join('\n');
}

function armsSection(r: StudyResults): string {
  const { baseline: b, treatment: t } = r.spec;
  const parts = [
    '## Arms',
    '',
    'Each arm is a small declarative override of the run config (src/study/arms.ts), run at the multipliers where either optimizer first fails in the stress test. An arm of both optimizers compares them with the override on each side; an arm of the treatment alone is compared with the baseline\'s stress runs at the same multiplier.',
    '',
  ];
  if (r.arms.length === 0) return [...parts, 'No arm in this study.'].join('\n');
  parts.push(
    renderTable(
      ['task', 'arm', 'what', 'applies to', 'status', 'multipliers', 'source'],
      r.arms.map((a) => {
        const def = ARMS[a.arm];
        const firsts = Object.entries(a.firstFailure)
          .map(([label, m]) => `${label} first fails at ${m === null ? 'none' : multLabel(m)}`)
          .join(', ');
        return [
          a.task,
          a.arm,
          def.description,
          def.appliesTo === 'both' ? `${b} and ${t}` : `${t} only`,
          a.needs ? `not run in this study (needs ${a.needs})` : 'run',
          a.needs ? '—' : `${a.multipliers.map(multLabel).join(', ')} (${firsts})`,
          def.source,
        ];
      }),
    ),
    '',
  );
  for (const a of r.arms.filter((x) => !x.needs)) {
    const cells = r.armCells.filter((c) => c.task === a.task && c.arm === a.arm);
    const note = ARMS[a.arm].appliesTo === 'treatment' ? ' (no arm)' : '';
    parts.push(`### ${a.task}: ${a.arm}`, '', renderTable(cellHeader(r, note), cells.flatMap((c) => cellRows(r, c))), '');
  }
  return parts.join('\n');
}

function multiplicitySection(r: StudyResults): string {
  const e = r.endpoints;
  const rawSig = e.filter((x) => x.comparison.pValue < FAMILY_ALPHA);
  const holmSig = e.filter((x) => x.comparison.pHolm < FAMILY_ALPHA);
  const ci95 = e.filter((x) => x.comparison.hi < 0 || x.comparison.lo > 0);
  const fw = e.filter((x) => x.favours !== null);
  // With a pre-registered family (v3) the family-wise intervals feed only the exploratory v2 claim check at the end.
  const counts = r.primary ? 'they count only in the exploratory claim check at the end; the sub-claim verdicts at the top come from the pre-registered primary family' : 'only these count in the verdicts';
  const lines = [
    '## Multiplicity',
    '',
    `- Endpoints: ${e.length}; log-rank tests: ${[...r.stress, ...r.armCells].filter((c) => c.survival).length}.`,
    `- 95% CIs that exclude 0: ${ci95.length}; family-wise intervals (${pct(r.familyConfidence)}) that exclude 0: ${fw.length} — ${counts}.`,
    `- p < ${FAMILY_ALPHA} raw: ${rawSig.length}; after Holm: ${holmSig.length}.`,
  ];
  const shown = e.filter((x) => x.comparison.pValue < FAMILY_ALPHA || x.favours !== null || x.comparison.hi < 0 || x.comparison.lo > 0);
  if (shown.length) {
    lines.push(
      '',
      'Endpoints with p < 0.05 or an interval excluding 0:',
      '',
      renderTable(
        ['task', 'arm', 'LR', 'metric', 'Δ [95% CI]', 'family-wise', 'p', 'p (Holm)', r.primary ? 'favours (v2 rule)' : 'decides'],
        shown.map((x) => [x.task, x.arm, multLabel(x.multiplier), x.metric, ci(x.comparison), adj(x.comparison), num(x.comparison.pValue), num(x.comparison.pHolm), x.favours ?? 'no']),
      ),
    );
  }
  return lines.join('\n');
}

/**
 * `figures`: the Markdown that embeds the SVG figures (src/figures/output.ts), placed before the
 * claim check; `answerFigures`: the forest plot's, in the opening section. The answer comes first.
 */
export function renderReport(r: StudyResults, figures = '', answerFigures = ''): string {
  return [
    `# Stability study report: ${r.spec.name}`,
    '',
    ...[unfinishedNote(r)].flatMap((note) => (note ? [note, ''] : [])),
    verdictSection(r, answerFigures),
    '',
    protocolSection(r),
    '',
    // The instrument before what it counted; '' for a spec that records no calibration.
    ...[calibrationSection(r)].flatMap((x) => (x ? [x, ''] : [])),
    tuningSection(r),
    '',
    stressSection(r),
    '',
    // Study v3's phases, exploratory; each is '' (and takes no space) when the study lacks the phase.
    ...[ladderSection(r), longSection(r), widthSection(r), controlSection(r), mechanismSection(r), noiseSection(r)].flatMap((x) => (x ? [x, ''] : [])),
    survivalSection(r),
    '',
    growthSection(r),
    '',
    armsSection(r),
    '',
    balanceSection(r),
    '',
    curvesSection(r),
    '',
    multiplicitySection(r),
    '',
    ...(figures ? [figures, ''] : []),
    claimSection(r),
    '',
  ].join('\n');
}
