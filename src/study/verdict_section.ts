/**
 * The answer first: the opening of REPORT.md (and report.html) — the pre-registered primary family,
 * the sub-claim verdicts by the v3 rule (verdict.ts: Holm over the primary family only), what each
 * inconclusive design could have detected, which endpoints the runs could not measure (each entered
 * Holm with p = 1 and is inconclusive), and, for a study without a family (v2), an honest note that
 * nothing in it was decided by that rule.
 */
import { overallParagraph, type SubClaim } from './claims.js';
import { multLabel } from './protocol.js';
import { primaryNoiseChecks } from './noise_section.js';
import { num } from './report_format.js';
import type { StudyResults } from './results.js';
import { phaseOf, type PrimaryEndpoint, type PrimaryResult, type UnmeasuredEndpoint, type VerdictKind } from './verdict.js';

/**
 * The multipliers an endpoint read (`used`, once measured) or lists: "2×", "1× + 2×"; for rung
 * 'first-failure' "first-failure rung (4×)", or before the runs "first-failure rung of 1×–256×".
 */
export function multipliersText(e: PrimaryEndpoint, used?: readonly number[], join = ' + '): string {
  if (e.rung === 'first-failure') {
    return used ? `first-failure rung (${used.map(multLabel).join(join)})` : `first-failure rung of ${multLabel(Math.min(...e.multipliers))}–${multLabel(Math.max(...e.multipliers))}`;
  }
  return (used ?? e.multipliers).map(multLabel).join(join);
}

/** The endpoint's cells and measure, e.g. "lm-moe, long-horizon phase, no arm, 1×, late spikes/1k (median)". */
const endpointText = (e: PrimaryEndpoint, used?: readonly number[]) =>
  `${e.task}, ${phaseOf(e) === 'long' ? 'long-horizon phase, ' : ''}${e.arm === 'none' ? 'no arm' : `arm ${e.arm}`}, ${multipliersText(e, used)}, ${e.metric}${e.detector ? ` (${e.detector})` : ''}`;

/** The effect with its interval: the Hodges–Lehmann shift, or O/E of the treatment's failures; "—" when not measured. */
function effectText(p: PrimaryResult): string {
  if (p.unmeasured !== null) return '—';
  if (p.shift) {
    const end = (x: number) => (Number.isFinite(x) ? num(x) : x > 0 ? '∞' : '−∞');
    return `${num(p.shift.estimate)} [${end(p.shift.lo)}, ${end(p.shift.hi)}]`;
  }
  return `O/E ${num(p.effect)} (${p.events} failures)`;
}

function detectableText(p: PrimaryResult): string {
  if (p.unmeasured !== null) return `not measured: ${p.unmeasured}`;
  const d = p.detectable;
  if (!d) return '—';
  if (d.kind === 'hazard') return d.hazardRatio === null ? 'none (no failures)' : `hazard ratio ${num(d.hazardRatio)}`;
  if (d.unattainable) return `none: exact p ≥ ${num(2 / binom(p.nTreatment + p.nBaseline, p.nTreatment))} > ${num(d.level)}`;
  return d.probSuperiority === null ? 'none' : `P(superiority) ${num(d.probSuperiority)} (${num(d.normalShiftSd ?? NaN)} SD)`;
}

function binom(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
}

/**
 * The verdicts table, one row per primary endpoint (REPORT.md and report.html); null without a
 * family. An endpoint not measured shows "—" for n and effect, its p as the 1 it entered Holm with,
 * and why in the last column.
 */
export function verdictTable(r: StudyResults): { head: string[]; rows: string[][] } | null {
  const o = r.primary;
  if (!o) return null;
  const { treatment: t, baseline: b } = r.spec;
  return {
    head: ['sub-claim', 'endpoint', `n (${t} / ${b})`, 'effect [interval]', 'exact p', 'Holm p', 'verdict', 'detectable (power 0.8)'],
    rows: o.decision.primary.map((p) => [
      `(${p.endpoint.subClaim})`,
      endpointText(p.endpoint, o.multipliersUsed[p.endpoint.subClaim]),
      p.unmeasured !== null ? '—' : `${p.nTreatment} / ${p.nBaseline}`,
      effectText(p),
      p.unmeasured !== null ? '— (1 in Holm)' : num(p.p),
      num(p.holmP),
      p.verdict,
      p.verdict === 'inconclusive' ? detectableText(p) : '—',
    ]),
  };
}

const BOLD: Record<VerdictKind, string> = { supported: '**supported**', contradicted: '**contradicted**', inconclusive: 'inconclusive' };

/** The sub-claims as the overall paragraph reads them, from the primary verdicts; a sub-claim outside the family is "not pre-registered". */
function primaryClaims(r: StudyResults): SubClaim[] {
  const decided = r.primary?.decision.primary ?? [];
  return (['a', 'b', 'c', 'd', 'e', 'f'] as const).map((id) => {
    const p = decided.find((x) => x.endpoint.subClaim === id);
    return p
      ? { id, text: endpointText(p.endpoint, r.primary!.multipliersUsed[id]), endpoints: [], verdict: p.verdict }
      : { id, text: '', endpoints: [], verdict: null, note: 'no primary endpoint in this study' };
  });
}

/** Plain sentences of the answer, for report.html's opening (one per sub-claim, then the rule). */
export function verdictLines(r: StudyResults): string[] {
  const o = r.primary;
  if (!o) {
    return [
      `This study pre-registered no primary family (a v2 study): no verdict was decided by Holm over pre-registered endpoints. The v2 rule over every endpoint's family-wise interval says ${r.verdict}; read it as exploratory (REPORT.md, Claim check).`,
    ];
  }
  return [
    `Sub-claim verdicts (table below): a sub-claim is supported or contradicted only when its pre-registered endpoint is Holm-significant at ${o.decision.alpha} over these ${o.family.length} endpoints, in that direction; every other number in the report is exploratory. Effect: ${r.spec.treatment} − ${r.spec.baseline}, Hodges–Lehmann shift [95 % interval] or observed ÷ expected failures.`,
    ...(o.unmeasured.length ? [unmeasuredText(o.unmeasured, o.family.length)] : []),
  ];
}

/** What the runs could not measure, and how the rule treated it (`lead`: the opening words, e.g. in bold). */
function unmeasuredText(unmeasured: readonly UnmeasuredEndpoint[], k: number, lead = 'Not measured'): string {
  const list = unmeasured.map((u) => `(${u.endpoint.subClaim}) ${u.why}`).join('; ');
  return `${lead}: ${list}. Each entered Holm with p = 1 and is inconclusive; the family keeps its ${k} endpoints, so no other endpoint faced an easier threshold.`;
}

/** The opening section of REPORT.md; `forest` is the Markdown of the forest plot ('' for none). */
export function verdictSection(r: StudyResults, forest = ''): string {
  const { treatment: t, baseline: b } = r.spec;
  const o = r.primary;
  const head = ['## Sub-claim verdicts', ''];
  if (!o) {
    return [
      ...head,
      'This study pre-registered **no primary family** (a v2 study). No verdict in this report was decided by the v3 rule (one pre-registered endpoint per sub-claim, exact tests, Holm over that family only). ' +
        `The claim check at the end applies the v2 rule (family-wise bootstrap intervals over all ${r.endpoints.length} endpoints; verdict: ${r.verdict}); at few seeds per side those intervals can exclude 0 on a complete separation that no test in a family this size could call significant, so read every verdict and interval below as **exploratory**.`,
    ].join('\n');
  }
  const family = [
    '### Pre-registered primary family (from study.json)',
    '',
    ...o.family.map(
      (e) =>
        `- (${e.subClaim}) ${endpointText(e, o.multipliersUsed[e.subClaim])}; supports the sub-claim when the ${t} (treatment) is ${e.supportsWhen === 'treatment-lower' ? 'lower' : 'higher'}${e.test === 'log-rank' ? ' in failure hazard' : ''}; test: ${e.test === 'rank-sum' ? 'exact rank-sum' : 'permutation log-rank'}.`,
    ),
  ];
  const table = verdictTable(r)!;
  const noise = primaryNoiseChecks(r);
  const noiseNotes = noise.map((c) => c.note);
  const noiseBound = noise.filter((c) => c.overBudget).map((c) => `(${c.subClaim})`);
  const cells = (row: readonly string[]) => `| ${row.join(' | ')} |`;
  const rows = table.rows.map((row) => cells(row.map((c, i) => (i === 6 ? BOLD[c as VerdictKind] : c))));
  return [
    ...head,
    `Each sub-claim is decided by its one pre-registered endpoint: **supported** or **contradicted** only when it is Holm-significant at ${o.decision.alpha} over the ${o.family.length} primary endpoints, in that direction; otherwise inconclusive, with the smallest effect the design could have detected (power 0.8) at its n. Effect: ${t} − ${b}; per-run values give the Hodges–Lehmann shift with its 95 % distribution-free interval, time to failure gives the treatment's observed ÷ expected failures. Every other comparison in this report is **exploratory** (raw p, descriptive intervals) and decides nothing.`,
    '',
    ...(o.unmeasured.length ? [unmeasuredText(o.unmeasured, o.family.length, '**Not measured**'), ''] : []),
    cells(table.head),
    cells(table.head.map(() => '---')),
    ...rows,
    '',
    ...(noiseNotes.length ? [...noiseNotes, ''] : []),
    `Overall: ${overallParagraph(primaryClaims(r), t, b, 'every verdict is Holm over the pre-registered primary family')}${
      noiseBound.length ? ` Read ${noiseBound.join(' and ')} with the post-hoc check above: noise alone crosses ${noiseBound.length > 1 ? 'their' : 'its'} detector's threshold more often than the calibration allowed.` : ''
    }`,
    '',
    ...(forest ? [forest, ''] : []),
    ...family,
  ].join('\n');
}
