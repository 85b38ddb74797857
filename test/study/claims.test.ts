/**
 * The overall paragraph of the claim check v2 follows mechanically from the sub-verdicts: every
 * combination of (a)–(c) gives the verdict verdictFrom would, and (d)–(f) qualify it.
 */
import { describe, expect, it } from 'vitest';
import { overallParagraph, type SubClaim } from '../../src/study/claims.js';
import type { SubClaimId, VerdictKind } from '../../src/study/verdict.js';

const claim = (id: SubClaimId, verdict: VerdictKind | null): SubClaim => ({
  id,
  text: `claim ${id}`,
  endpoints: [],
  verdict,
  ...(verdict === null ? { note: `not run in this study (needs thing ${id})` } : {}),
});
const set = (v: Partial<Record<SubClaimId, VerdictKind | null>>) =>
  (['a', 'b', 'c', 'd', 'e', 'f'] as const).map((id) => claim(id, v[id] === undefined ? null : v[id]!));

describe('overallParagraph', () => {
  it('says the setting was not run when (a)–(c) were not, whatever else ran', () => {
    const p = overallParagraph(set({ f: 'supported' }), 'muon', 'adamw');
    expect(p).toMatch(/^\*\*The claim's own setting was not run in this study\*\*/);
    expect(p).toContain('cannot say how large the difference is');
  });

  it('supported / contradicted / inconclusive from (a)–(c) like verdictFrom, counting only sub-claims that ran', () => {
    expect(overallParagraph(set({ a: 'supported', b: 'inconclusive', c: 'supported' }), 'muon', 'adamw')).toMatch(
      /^\*\*Supported in its own setting at this scale\*\*: \(a\) supported, \(b\) inconclusive, \(c\) supported;/,
    );
    expect(overallParagraph(set({ a: 'contradicted', b: null, c: 'inconclusive' }), 'muon', 'adamw')).toMatch(
      /^\*\*Contradicted in its own setting at this scale\*\*: \(a\) contradicted, \(b\) not run, \(c\) inconclusive;/,
    );
    expect(overallParagraph(set({ a: 'supported', b: 'contradicted', c: 'inconclusive' }), 'muon', 'adamw')).toMatch(
      /^\*\*Inconclusive in its own setting at this scale\*\*/,
    );
    expect(overallParagraph(set({ a: 'inconclusive', b: 'inconclusive', c: 'inconclusive' }), 'muon', 'adamw')).toMatch(/^\*\*Inconclusive/);
  });

  it('qualifies by (d), (e) and (f)', () => {
    const p = overallParagraph(set({ a: 'supported', b: 'supported', c: 'supported', d: 'contradicted', e: null, f: 'supported' }), 'muon', 'adamw');
    expect(p).toContain('With the mitigations it is reversed: (d) contradicted, adamw is the more stable there.');
    expect(p).toContain('In low precision it was not tested: (e) not run in this study (needs thing e).');
    expect(p).toContain('The dense LM shows the same as (a), (b), (c) ((f) supported), so that difference is not specific to MoE.');
    const q = overallParagraph(set({ a: 'supported', b: 'supported', c: 'supported', d: 'supported', e: 'inconclusive', f: 'inconclusive' }), 'muon', 'adamw');
    expect(q).toContain('With the mitigations it still holds: (d) supported.');
    expect(q).toContain('In low precision it is not established: (e) inconclusive.');
    expect(q).toContain('The dense LM does not show the same ((f) inconclusive), so what (a), (b), (c) found may be specific to MoE.');
    expect(overallParagraph(set({ a: 'supported' }), 'muon', 'adamw')).toContain('Whether it is specific to MoE was not tested (not run in this study (needs thing f)).');
    expect(overallParagraph(set({ a: 'inconclusive', b: 'inconclusive', c: 'inconclusive', f: 'inconclusive' }), 'muon', 'adamw')).toContain(
      'The dense LM is inconclusive too ((f) inconclusive), so the study cannot say whether anything here is specific to MoE.',
    );
    expect(overallParagraph(set({ a: 'inconclusive', b: 'inconclusive', c: 'inconclusive', f: 'contradicted' }), 'muon', 'adamw')).toContain(
      "The dense LM shows a difference the MoE LM's (a)–(c) do not ((f) contradicted).",
    );
  });

  it('a split (a)–(c) is inconclusive, says so, and (f) is read against the sub-claim it agrees with', () => {
    const p = overallParagraph(set({ a: 'contradicted', b: 'inconclusive', c: 'supported', f: 'supported' }), 'muon', 'adamw');
    expect(p).toMatch(
      /^\*\*Inconclusive in its own setting at this scale\*\*: \(a\) contradicted, \(b\) inconclusive, \(c\) supported; the sub-claims that are decided point in opposite directions\./,
    );
    expect(p).toContain('The dense LM shows the same as (c) ((f) supported), so that difference is not specific to MoE.');
    expect(p).not.toContain('may be specific to MoE');
    expect(overallParagraph(set({ a: 'inconclusive', b: 'inconclusive', c: 'supported', f: 'contradicted' }), 'muon', 'adamw')).toContain(
      "The dense LM goes the other way from (c) ((f) contradicted), so the MoE LM's result may be specific to MoE.",
    );
  });
});
