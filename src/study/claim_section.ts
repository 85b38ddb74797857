/**
 * The claim check of the study report: the claim quoted, the endpoint-level verdict with the
 * endpoints that decide it, the sub-claims (a)–(f) (claims.ts) and the limits of a small-scale test.
 */
import { overallParagraph, subClaims } from './claims.js';
import { claimTasksOf, multLabel, seedsOf, stressStepsOf } from './protocol.js';
import { adj, ci, num, pct } from './report_format.js';
import type { StudyResults } from './results.js';
import { FAMILY_ALPHA } from './stats.js';
import { taskModelKind } from './study.js';

/** docs/references.md#the-claim, quoted verbatim in every report. */
export const CLAIM =
  'Muon stabilises training at scale, reducing the divergence and loss spikes that AdamW shows in late-stage training of large MoE models.';

function claimV2Section(r: StudyResults): string {
  const claims = subClaims(r);
  const word = { supported: '**supported**', contradicted: '**contradicted**', inconclusive: '**inconclusive**' };
  const lines = [
    '### Claim check v2: sub-claims',
    '',
    `Each sub-claim gets a verdict by the rule above applied to its own endpoints' family-wise intervals; roles: MoE LM = ${claimTasksOf(r.spec).moe}, dense LM = ${claimTasksOf(r.spec).dense}.`,
    '',
  ];
  for (const c of claims) {
    const fav = (side: 'treatment' | 'baseline') => c.endpoints.filter((e) => e.favours === side).length;
    const body =
      c.verdict === null
        ? c.note!
        : `${word[c.verdict]} — ${c.endpoints.length} endpoints, ${fav('treatment')} favour ${r.spec.treatment}, ${fav('baseline')} favour ${r.spec.baseline}${c.note ? ` (${c.note})` : ''}`;
    lines.push(`- (${c.id}) ${c.text}: ${body}`);
  }
  lines.push('', `Overall: ${overallParagraph(claims, r.spec.treatment, r.spec.baseline)}`);
  return lines.join('\n');
}

/** Smallest two-sided exact Mann–Whitney p for n vs n without ties: 2 / C(2n, n). */
function minMannWhitneyP(n: number): number {
  let c = 1;
  for (let i = 1; i <= n; i++) c = (c * (n + i)) / i;
  return Math.min(1, 2 / c);
}

export function claimSection(r: StudyResults): string {
  const { baseline: b, treatment: t } = r.spec;
  const forT = r.endpoints.filter((e) => e.favours === 'treatment');
  const forB = r.endpoints.filter((e) => e.favours === 'baseline');
  const line = (e: (typeof r.endpoints)[number]) =>
    `  - ${e.task}${e.arm === 'none' ? '' : ` (arm ${e.arm})`} at ${multLabel(e.multiplier)}, ${e.metric}: Δ = ${ci(e.comparison)}, family-wise ${adj(e.comparison)}, P(${t} better) = ${num(e.comparison.probTreatmentBetter)}, p = ${num(e.comparison.pValue)}, Holm p = ${num(e.comparison.pHolm)}`;
  const verdictText = {
    supported: `**Supported at this scale**: at least one endpoint's family-wise interval lies entirely below 0 (${t} better) and none lies entirely above 0.`,
    contradicted: `**Contradicted at this scale**: at least one endpoint's family-wise interval lies entirely above 0 (${b} better) and none lies entirely below 0.`,
    inconclusive:
      forT.length && forB.length
        ? `**Inconclusive at this scale**: some endpoints favour ${t} and others ${b}.`
        : `**Inconclusive at this scale**: every endpoint's family-wise interval includes 0.`,
  }[r.verdict];
  return [
    '## Claim check',
    '',
    `> ${CLAIM}`,
    '> — the claim under test (docs/references.md#the-claim)',
    '',
    r.primary
      ? '*Exploratory*: the verdicts of this section follow the v2 rule over every endpoint and decide nothing; the sub-claims are decided at the top of this report (Sub-claim verdicts), by the pre-registered primary family.'
      : '*v2 rule*: this study pre-registered no primary family, so this section is the only verdict it has; it follows the v2 rule below, whose limits at few seeds are stated under Limits.',
    '',
    `Endpoints: for every task, LR multiplier and arm, the ${t} − ${b} difference in divergence rate, failure rate, steps lost to divergence, final eval loss, and spikes per 1k steps (whole run and last half) for each detector (${r.endpoints.length} endpoints). Rule: *supported* if at least one family-wise interval (${pct(r.familyConfidence)}) lies below 0 and none above; *contradicted* if at least one lies above and none below; otherwise *inconclusive*.`,
    '',
    `- Endpoints favouring ${t} (family-wise interval below 0): ${forT.length}${forT.length ? `\n${forT.map(line).join('\n')}` : ''}`,
    `- Endpoints favouring ${b} (family-wise interval above 0): ${forB.length}${forB.length ? `\n${forB.map(line).join('\n')}` : ''}`,
    `- Endpoints whose family-wise interval includes 0: ${r.endpoints.length - forT.length - forB.length}`,
    `- Of the ${forT.length + forB.length} deciding endpoints, ${[...forT, ...forB].filter((e) => e.comparison.pHolm < FAMILY_ALPHA).length} also have a Holm-adjusted p < ${FAMILY_ALPHA}.`,
    '',
    `Verdict: ${verdictText}`,
    '',
    claimV2Section(r),
    '',
    '### Limits of a small-scale test',
    '',
    `- Scale: models of ~10⁴–10⁵ parameters trained for ${stressRange(r)} steps on a CPU, not billion-parameter MoE models over trillions of tokens; this tests the direction of the claim, not its magnitude at scale (docs/references.md#the-claim).`,
    seedsLimit(r),
    r.spec.long
      ? `- "Late-stage": the long-horizon phase (${r.spec.long.tasks.join(', ')}) trains for ${r.spec.long.tokensPerActiveParam} tokens per active parameter at a constant LR after the warm-up; the stress runs hold multiples of the tuned LR for hundreds of steps. Attention-logit growth and entropy collapse can show (see Growth), but MoE outlier activations and data-order effects of trillion-token runs cannot.`
      : hasAttention(r)
      ? '- "Late-stage" is emulated by a constant LR held at multiples of the tuned LR past the tuning horizon, in runs of hundreds of steps; the language models have attention, so attention-logit growth and entropy collapse can show (see Growth), but MoE outlier activations and data-order effects of trillion-token runs cannot.'
      : '- "Late-stage" is emulated by a constant LR held at multiples of the tuned LR; real late-stage instabilities (attention-logit growth, MoE outlier activations, data-order effects) have no counterpart in an MLP or a one-layer MoE.',
    `- Spike detectors are relative thresholds tuned for minibatch noise at this scale; the counts depend on those thresholds (see Protocol), and Muon and AdamW reach different loss levels, which changes the noise each detector sees${r.phases.noise.length ? ' (measured in "Spike detector against the loss noise")' : ''}.`,
    `- Muon here is plain Muon in the stress runs; ${modificationsTested(r)}`,
  ].join('\n');
}

/**
 * The Limits line on seeds. The bootstrap's blind spot is worst at the smallest n a cell has; with a
 * pre-registered family (v3) the cells it reads have their own, larger n and exact tests.
 */
function seedsLimit(r: StudyResults): string {
  const ns = r.spec.tasks.map((t) => seedsOf(r.spec, t).length);
  const [lo, hi] = [Math.min(...ns), Math.max(...ns)];
  const blindSpot = `A percentile interval cannot reach beyond the resampled means, so when the two sides do not overlap at all (e.g. every run of one optimizer diverged and none of the other) even the family-wise interval excludes 0, at any confidence, while the exact two-sided Mann–Whitney p at ${lo} vs ${lo} cannot go below ${num(minMannWhitneyP(lo))} (the tie-corrected normal approximation a little lower), which Holm over ${r.endpoints.length}+ tests multiplies far above 0.05. The family-wise intervals keep partial overlaps from deciding a verdict, not complete separations: read the Holm p-values beside them (Multiplicity).`;
  if (lo === hi) return `- Seeds: n = ${lo} per cell, so intervals are wide and a bootstrap over so few values is itself approximate. ${blindSpot}`;
  return `- Seeds: n = ${lo}–${hi} per cell (per task under Protocol)${r.primary ? `; the cells of the pre-registered endpoints are decided by exact tests at their own n` : ''}. Where n = ${lo}, intervals are wide and a bootstrap over so few values is itself approximate. ${blindSpot}`;
}

/** The horizons of the study's stress and long-horizon runs, e.g. "200" or "200–4065". */
function stressRange(r: StudyResults): string {
  const steps = [...r.spec.tasks.map((t) => stressStepsOf(r.spec, t)), ...r.phases.long.map((l) => l.steps)];
  const [lo, hi] = [Math.min(...steps), Math.max(...steps)];
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}

function hasAttention(r: StudyResults): boolean {
  return r.spec.tasks.some((t) => taskModelKind(t, r.experiments) === 'transformer');
}

/** Which stability changes of Kimi K2 (QK-clip) and Moonlight (RMS matching) the arms tested. */
function modificationsTested(r: StudyResults): string {
  const ran = (arm: string) => r.arms.filter((a) => a.arm === arm && !a.needs).map((a) => a.task);
  const clip = ran('qkClip');
  const rms = ran('muon-match-rms');
  const parts = [
    clip.length ? `QK-clip (MuonClip with Muon) was tested as an arm on ${clip.join(', ')}` : 'QK-clip (Kimi K2) was not tested',
    rms.length ? `Moonlight's RMS matching as an arm on ${rms.join(', ')}` : "Moonlight's RMS matching was not tested",
  ];
  return `${parts.join('; ')}, only at the multipliers where either optimizer first fails.`;
}
