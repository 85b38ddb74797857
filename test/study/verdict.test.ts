/**
 * The verdict rule on synthetic samples: decided only when the primary endpoint is Holm-significant
 * at 0.05 over the primary family, in the direction it shows; a 5 vs 5 complete separation (exact
 * p = 2/252 ≈ 0.0079) is inconclusive in a family of 7 (0.05/7 ≈ 0.0071) and decides in a family of
 * 6 (0.05/6 ≈ 0.0083); exploratory endpoints never change a verdict; an endpoint not measured
 * enters Holm with p = 1, so the family keeps its size and the others their thresholds.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideClaims, validatePrimaryFamily, type EndpointSamples, type ExploratoryEndpoint, type SubClaimId, type PrimaryEndpoint, type PrimaryResult } from '../../src/study/verdict.js';
import { Rng } from '../../src/data/rng.js';

/** The detectable effect of a rank-sum endpoint (fails the test if it is a log-rank one). */
function shiftOf(d: PrimaryResult['detectable']) {
  if (d?.kind !== 'shift') throw new Error(`expected a rank-sum detectable effect, got ${JSON.stringify(d)}`);
  return d;
}

const IDS: SubClaimId[] = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

const endpoint = (subClaim: SubClaimId, over: Partial<PrimaryEndpoint> = {}): PrimaryEndpoint => ({
  subClaim,
  task: 'lm-moe',
  arm: 'none',
  multipliers: [1],
  metric: 'late spikes/1k',
  detector: 'gradnorm',
  supportsWhen: 'treatment-lower',
  test: 'rank-sum',
  ...over,
});

/** Samples with no evidence either way: the same values in both groups (two-sided p = 1). */
const noEffect = (n: number): EndpointSamples => {
  const xs = Array.from({ length: n }, (_, i) => i);
  return { kind: 'values', treatment: xs, baseline: xs };
};

/** Treatment entirely below baseline: 5 vs 5 gives the smallest exact p, 2/252. */
const separated: EndpointSamples = { kind: 'values', treatment: [1, 2, 3, 4, 5], baseline: [6, 7, 8, 9, 10] };

function familyOf(size: number): PrimaryEndpoint[] {
  return IDS.slice(0, size).map((id) => endpoint(id));
}

describe('decideClaims', () => {
  it('5 vs 5 complete separation: inconclusive in a family of 7, with "nothing detectable" stated', () => {
    const family = familyOf(7);
    const samples = Object.fromEntries(family.map((e) => [e.subClaim, e.subClaim === 'a' ? separated : noEffect(5)]));
    const d = decideClaims(family, samples);
    const a = d.primary[0]!;
    expect(a.p).toBeCloseTo(2 / 252, 12);
    expect(a.holmP).toBeCloseTo(Math.min(1, (7 * 2) / 252), 12);
    expect(a.verdict).toBe('inconclusive');
    expect(shiftOf(a.detectable).unattainable).toBe(true);
    expect(d.primary.every((r) => r.verdict === 'inconclusive')).toBe(true);
  });

  it('the same separation decides in a family of 6: supported, or contradicted when the claim points the other way', () => {
    const family = familyOf(6);
    const samples = Object.fromEntries(family.map((e) => [e.subClaim, e.subClaim === 'a' ? separated : noEffect(5)]));
    const d = decideClaims(family, samples);
    expect(d.primary[0]!.holmP).toBeCloseTo((6 * 2) / 252, 12);
    expect(d.primary[0]!.verdict).toBe('supported');
    expect(d.primary[0]!.detectable).toBeNull();
    const flipped = family.map((e) => (e.subClaim === 'a' ? { ...e, supportsWhen: 'treatment-higher' as const } : e));
    expect(decideClaims(flipped, samples).primary[0]!.verdict).toBe('contradicted');
  });

  it('20 vs 20 with a clear shift: supported; the reverse shift: contradicted; no shift: inconclusive with a stated detectable effect', () => {
    const rng = new Rng(3);
    const base = Array.from({ length: 20 }, () => rng.normal());
    const lower = Array.from({ length: 20 }, () => rng.normal() - 2);
    const higher = Array.from({ length: 20 }, () => rng.normal() + 2);
    const same = Array.from({ length: 20 }, () => rng.normal());
    const family = familyOf(7);
    const run = (treatment: number[]) =>
      decideClaims(family, Object.fromEntries(family.map((e) => [e.subClaim, e.subClaim === 'b' ? { kind: 'values' as const, treatment, baseline: base } : noEffect(20)])))
        .primary[1]!;
    expect(run(lower).verdict).toBe('supported');
    expect(run(lower).shift!.hi).toBeLessThan(0);
    expect(run(higher).verdict).toBe('contradicted');
    const none = run(same);
    expect(none.verdict).toBe('inconclusive');
    const d = shiftOf(none.detectable);
    expect(d.unattainable).toBe(false);
    // Noether at 20 vs 20, level 0.05/7, power 0.8: P(X<Y) ≈ 0.82, about 1.3 SD of a normal shift.
    expect(d.probSuperiority!).toBeGreaterThan(0.8);
    expect(d.probSuperiority!).toBeLessThan(0.85);
    expect(d.normalShiftSd!).toBeGreaterThan(1.2);
    expect(d.normalShiftSd!).toBeLessThan(1.4);
  });

  it('a time-to-failure endpoint decides by the permutation log-rank', () => {
    const family: PrimaryEndpoint[] = [endpoint('c', { metric: 'time to failure', detector: null, test: 'log-rank', multipliers: [8, 16] })];
    const never = Array.from({ length: 20 }, () => ({ time: 1000, event: false }));
    const early = Array.from({ length: 20 }, (_, i) => ({ time: 50 + i * 10, event: true }));
    const d = decideClaims(family, { c: { kind: 'survival', treatment: never, baseline: early } }, [], { seed: 1 });
    expect(d.primary[0]!.verdict).toBe('supported');
    const r = decideClaims(family, { c: { kind: 'survival', treatment: early, baseline: never } }, [], { seed: 1 });
    expect(r.primary[0]!.verdict).toBe('contradicted');
    // Two failures in 40 runs decide nothing; the detectable effect is a hazard ratio from those 2 events.
    const few = [...never.slice(1), { time: 300, event: true }];
    const undecided = decideClaims(family, { c: { kind: 'survival', treatment: few, baseline: [...never.slice(1), { time: 200, event: true }] } }, [], { seed: 1 }).primary[0]!;
    expect(undecided.verdict).toBe('inconclusive');
    expect(undecided.events).toBe(2);
    expect(undecided.detectable?.kind).toBe('hazard');
  });

  it('an endpoint not measured enters Holm with p = 1 over k = 7: the others are decided at their full-family thresholds', () => {
    const rng = new Rng(5);
    const base = Array.from({ length: 20 }, () => rng.normal());
    const lower = Array.from({ length: 20 }, () => rng.normal() - 2);
    const family = familyOf(7);
    const samples = Object.fromEntries(
      family.filter((e) => e.subClaim !== 'c').map((e) => [e.subClaim, e.subClaim === 'b' ? { kind: 'values' as const, treatment: lower, baseline: base } : noEffect(20)]),
    );
    const d = decideClaims(family, samples, [], { unmeasured: { c: 'arm qkNorm did not run at 4×' } });
    expect(d.primary.map((r) => r.endpoint.subClaim)).toEqual(IDS);
    const b = d.primary[1]!;
    expect(b.p).toBeLessThan(0.05 / 7);
    // The smallest p faces Holm's first step over all 7, not 6.
    expect(b.holmP).toBeCloseTo(7 * b.p, 12);
    expect(b.verdict).toBe('supported');
    expect(b.unmeasured).toBeNull();
    const c = d.primary[2]!;
    expect(c).toMatchObject({ p: 1, holmP: 1, verdict: 'inconclusive', observed: null, shift: null, nTreatment: 0, nBaseline: 0, detectable: null, unmeasured: 'arm qkNorm did not run at 4×' });
    // No test ran and no data entered: nothing for a bundle to re-derive but the rule's p = 1.
    expect([c.samples, c.method, c.permutations, c.rejected]).toEqual([null, null, null, false]);
    expect(b.samples).toEqual({ kind: 'values', treatment: lower, baseline: base });
    // The measured endpoints get the same p and Holm p as if the missing one had been measured with p = 1.
    const measured = decideClaims(family, { ...samples, c: noEffect(20) });
    expect(d.primary.map((r) => r.holmP)).toEqual(measured.primary.map((r) => r.holmP));
  });

  it('refuses a family with a missing sample, a doubled sub-claim or the wrong kind of data', () => {
    expect(() => decideClaims(familyOf(2), { a: separated })).toThrow(/\(b\).*no samples, and no reason it was not measured/);
    expect(() => decideClaims(familyOf(2), { a: separated, b: separated }, [], { unmeasured: { b: 'x' } })).toThrow(/\(b\): both samples and a reason/);
    expect(() => decideClaims(familyOf(2), { a: separated, b: separated }, [], { unmeasured: { c: 'x' } })).toThrow(/unmeasured sub-claim\(s\) c: not in the primary family/);
    expect(() => validatePrimaryFamily([endpoint('a'), endpoint('a')])).toThrow(/more than one/);
    expect(() => decideClaims([endpoint('a', { metric: 'time to failure', test: 'log-rank', detector: null })], { a: separated })).toThrow(/survival/);
  });

  it('a long-horizon endpoint: a per-run value with no arm, as that phase runs', () => {
    expect(() => validatePrimaryFamily([endpoint('a', { phase: 'long' }), endpoint('b', { phase: 'stress' })])).not.toThrow();
    expect(() => validatePrimaryFamily([endpoint('a', { phase: 'long', arm: 'qkNorm' })])).toThrow(/\(a\) reads the long-horizon phase: needs arm none/);
    expect(() => validatePrimaryFamily([endpoint('a', { phase: 'long', metric: 'time to failure', detector: null, test: 'log-rank' })])).toThrow(/long-horizon/);
    expect(() => validatePrimaryFamily([endpoint('a', { phase: 'ladder' as 'long' })])).toThrow(/phase "ladder"/);
  });

  it('the first-failure rung: time to failure on the stress runs with no arm only', () => {
    const ttf = { metric: 'time to failure', detector: null, test: 'log-rank', multipliers: [1, 2, 4], rung: 'first-failure' } as const;
    expect(() => validatePrimaryFamily([endpoint('c', ttf), endpoint('f', { ...ttf, phase: 'stress' })])).not.toThrow();
    expect(() => validatePrimaryFamily([endpoint('c', { ...ttf, arm: 'bf16' })])).toThrow(/\(c\) reads the first-failure rung: needs arm none/);
    expect(() => validatePrimaryFamily([endpoint('c', { rung: 'first-failure' })])).toThrow(/first-failure rung/);
  });

  it('property: exploratory endpoints never change a verdict, a p or a Holm p of the primary family', () => {
    const values = fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 3, maxLength: 8 });
    const exploratoryArb = fc.array(
      fc.record({ id: fc.string(), treatment: values, baseline: values }).map(
        (x): ExploratoryEndpoint => ({ id: x.id, samples: { kind: 'values', treatment: x.treatment, baseline: x.baseline } }),
      ),
      { maxLength: 6 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.array(fc.tuple(values, values), { minLength: 7, maxLength: 7 }), exploratoryArb, (size, data, exploratory) => {
        const family = familyOf(size);
        const samples = Object.fromEntries(family.map((e, i) => [e.subClaim, { kind: 'values' as const, treatment: data[i]![0], baseline: data[i]![1] }]));
        const alone = decideClaims(family, samples);
        const withExploratory = decideClaims(family, samples, exploratory);
        expect(withExploratory.primary).toEqual(alone.primary);
        expect(withExploratory.exploratory).toHaveLength(exploratory.length);
        // Exploratory results carry raw p only: nothing adjusted, no verdict.
        for (const x of withExploratory.exploratory) expect(Object.keys(x)).not.toContain('verdict');
      }),
      { numRuns: 60, seed: 42 },
    );
  });
});
