/**
 * Claim check v2: the claim split into sub-claims (a)–(f), each with its own
 * verdict by the study's rule (`verdictFrom`) applied to the family-wise intervals of its own
 * endpoints, and an overall paragraph that follows mechanically from the sub-verdicts. A sub-claim
 * whose task or arms are not in the study is "not run", with what it needs; never dropped.
 */
import { armNeeds, type ArmName } from './arms.js';
import { taskModelKind } from './study.js';
import { verdictFrom } from './compare.js';
import type { Endpoint, StudyResults } from './results.js';
import type { SubClaimId, VerdictKind } from './verdict.js';
import { claimTasksOf } from './protocol.js';

export interface SubClaim {
  readonly id: SubClaimId;
  readonly text: string;
  /** The endpoints the verdict is drawn from (empty when not run). */
  readonly endpoints: readonly Endpoint[];
  /** null: not run in this study. */
  readonly verdict: VerdictKind | null;
  /** When not run: what it needs. When run without any testable endpoint: why. */
  readonly note?: string;
}

/** What a task of the claim needs when a study does not have it. */
const TASK_NEEDS: Record<string, string> = {
  'lm-moe': 'task lm-moe, the MoE language model',
  'lm-brown': 'task lm-brown, the dense language model',
};

const MITIGATIONS: readonly ArmName[] = ['qkNorm', 'zLoss', 'qkClip'];
const PRECISIONS: readonly ArmName[] = ['bf16', 'fp4'];

const isLateSpike = (e: Endpoint) => e.metric.startsWith('late spikes/1k');
const isDivergence = (e: Endpoint) => e.metric === 'divergence rate' || e.metric === 'failure rate' || e.metric === 'steps lost to divergence';

export function subClaims(r: StudyResults): SubClaim[] {
  const roles = claimTasksOf(r.spec);
  const t = r.spec.treatment;
  const tasks = new Set(r.spec.tasks.map((x) => x.experiment));
  const taskNeeds = (task: string) => (tasks.has(task) ? undefined : (TASK_NEEDS[task] ?? `task ${task}`));
  const on = (task: string, arm: ArmName | readonly ArmName[]) => {
    const arms = typeof arm === 'string' ? [arm] : arm;
    return r.endpoints.filter((e) => e.task === task && arms.includes(e.arm));
  };
  const coreOf = (es: readonly Endpoint[]) => es.filter((e) => isLateSpike(e) || isDivergence(e));

  const make = (id: SubClaimId, text: string, endpoints: readonly Endpoint[], needs: string | undefined): SubClaim => {
    if (needs) return { id, text, endpoints: [], verdict: null, note: `not run in this study (needs ${needs})` };
    if (endpoints.length === 0) {
      return { id, text, endpoints, verdict: 'inconclusive', note: 'run, but no endpoint could be tested (e.g. every run diverged, leaving no spike comparison)' };
    }
    return { id, text, endpoints, verdict: verdictFrom(endpoints) };
  };
  const groupNeeds = (task: string, group: readonly ArmName[]) => {
    const tn = taskNeeds(task);
    if (tn) return `${tn}; arms ${group.join(', ')}`;
    // The task is in the study (taskNeeds above).
    const spec = r.spec.tasks.find((x) => x.experiment === task)!;
    const listed = new Set((spec.arms ?? []) as readonly ArmName[]);
    const ran = new Set(r.arms.filter((a) => a.task === task && !a.needs).map((a) => a.arm));
    if (group.some((a) => ran.has(a))) return undefined;
    const kind = taskModelKind(spec, r.experiments);
    return group
      .map((a) => {
        const needs = r.arms.find((x) => x.task === task && x.arm === a)?.needs ?? armNeeds(a, kind);
        return needs ? `arm ${a}: ${needs}` : listed.has(a) ? `arm ${a}` : `arm ${a} on ${task} in the study spec`;
      })
      .join('; ');
  };

  const moe = roles.moe;
  const none = on(moe, 'none');
  return [
    make('a', `fewer late-stage spikes for ${t} on the MoE LM (${moe}) at the tuned LR`, none.filter((e) => isLateSpike(e) && e.multiplier === 1), taskNeeds(moe)),
    make('b', `the same at 2× and 4× the tuned LR`, none.filter((e) => isLateSpike(e) && (e.multiplier === 2 || e.multiplier === 4)), taskNeeds(moe)),
    make('c', `later or no divergence or failure (divergence rate, failure rate, steps lost to divergence; every multiplier)`, none.filter(isDivergence), taskNeeds(moe)),
    make('d', `(a)–(c) still hold with the mitigations (${MITIGATIONS.join(', ')}), at the multipliers where either optimizer first fails`, coreOf(on(moe, MITIGATIONS)), groupNeeds(moe, MITIGATIONS)),
    make('e', `(a)–(c) still hold in low precision (${PRECISIONS.join(', ')})`, coreOf(on(moe, PRECISIONS)), groupNeeds(moe, PRECISIONS)),
    make('f', `the same on the dense LM (${roles.dense}): is it about MoE at all?`, coreOf(on(roles.dense, 'none')), taskNeeds(roles.dense)),
  ];
}

const word = (v: VerdictKind) => ({ supported: 'supported', contradicted: 'contradicted', inconclusive: 'inconclusive' })[v];

/**
 * The overall paragraph, mechanically: the core verdict is `verdictFrom`-style over (a)–(c) (each
 * sub-claim counts as an endpoint favouring the treatment if supported, the baseline if
 * contradicted); (d), (e), (f) qualify it; the limits of the scale close it.
 */
export function overallParagraph(claims: readonly SubClaim[], treatment: string, baseline: string, rule = 'every verdict uses family-wise intervals'): string {
  const by = Object.fromEntries(claims.map((c) => [c.id, c])) as Record<SubClaimId, SubClaim>;
  const core = [by.a, by.b, by.c].filter((c) => c.verdict !== null);
  const scale =
    'At this scale the study can say in which direction the optimizers differ on small models over a few thousand steps; it cannot say how large the difference is, or whether it persists, at billions of parameters and trillions of tokens.';
  if (core.length === 0) {
    return [
      "**The claim's own setting was not run in this study** (sub-claims (a)–(c) need the MoE language model), so this study gives no verdict on the claim itself; the endpoint-level check above covers only the tasks that were run.",
      scale,
    ].join(' ');
  }
  const asEndpoints = core.map((c) => ({ favours: c.verdict === 'supported' ? ('treatment' as const) : c.verdict === 'contradicted' ? ('baseline' as const) : null }));
  const overall = verdictFrom(asEndpoints);
  const decided = core.filter((c) => c.verdict === 'supported' || c.verdict === 'contradicted');
  const split = new Set(decided.map((c) => c.verdict)).size > 1;
  const ids = (cs: readonly SubClaim[]) => cs.map((c) => `(${c.id})`).join(', ');
  const list = (cs: readonly SubClaim[]) => cs.map((c) => `(${c.id}) ${c.verdict === null ? 'not run' : word(c.verdict)}`).join(', ');
  const head = {
    supported: `**Supported in its own setting at this scale**: ${list([by.a, by.b, by.c])}; no sub-claim of (a)–(c) is contradicted.`,
    contradicted: `**Contradicted in its own setting at this scale**: ${list([by.a, by.b, by.c])}; no sub-claim of (a)–(c) is supported.`,
    inconclusive: `**Inconclusive in its own setting at this scale**: ${list([by.a, by.b, by.c])}${
      split ? '; the sub-claims that are decided point in opposite directions' : ''
    }.`,
  }[overall];
  const qualify = (c: SubClaim, setting: string) => {
    if (c.verdict === null) return `${setting} it was not tested: (${c.id}) ${c.note}.`;
    if (c.verdict === 'supported') return `${setting} it still holds: (${c.id}) supported.`;
    if (c.verdict === 'contradicted') return `${setting} it is reversed: (${c.id}) contradicted, ${baseline} is the more stable there.`;
    return `${setting} it is not established: (${c.id}) inconclusive.`;
  };
  // (f) is read against the MoE sub-claims decided in its direction, not the overall verdict: with
  // (a)–(c) split, (f) can agree with one of them, and "not specific to MoE" is then true of that one.
  const dense = (() => {
    const f = by.f.verdict;
    if (f === null) return `Whether it is specific to MoE was not tested (${by.f.note}).`;
    if (f === 'inconclusive') {
      return decided.length === 0
        ? 'The dense LM is inconclusive too ((f) inconclusive), so the study cannot say whether anything here is specific to MoE.'
        : `The dense LM does not show the same ((f) inconclusive), so what ${ids(decided)} found may be specific to MoE.`;
    }
    const same = decided.filter((c) => c.verdict === f);
    if (same.length > 0) return `The dense LM shows the same as ${ids(same)} ((f) ${word(f)}), so that difference is not specific to MoE.`;
    return decided.length > 0
      ? `The dense LM goes the other way from ${ids(decided)} ((f) ${word(f)}), so the MoE LM's result may be specific to MoE.`
      : `The dense LM shows a difference the MoE LM's (a)–(c) do not ((f) ${word(f)}).`;
  })();
  return [
    head,
    qualify(by.d, 'With the mitigations'),
    qualify(by.e, 'In low precision'),
    dense,
    `(${treatment} − ${baseline}; ${rule}.)`,
    scale,
  ].join(' ');
}
