/**
 * The independent re-derivation of a published bundle's verdicts: publish writes primary.json with
 * each primary endpoint's per-run samples, p, Holm decision and verdict; `verify-bundle` re-derives
 * them without the analysis's statistics and agrees; a p, a sample, a verdict, the family or
 * REPORT.md edited after publishing is caught (exit 1). The independent statistics agree with
 * exact.ts and stats.ts on random data (ties, censoring, the Monte-Carlo paths), and the
 * re-derivation's imports never reach the code it checks.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { cli } from './cli.js';
import { Rng } from '../../src/data/rng.js';
import { analyzeStudy } from '../../src/study/analyze.js';
import { PRIMARY_FILE, REPORT_FILE } from '../../src/study/bundle_files.js';
import { logRankPermutation, rankSumTest } from '../../src/study/exact.js';
import { primaryFileOf } from '../../src/study/primary_export.js';
import type { FileRow, PrimaryFile } from '../../src/study/primary_format.js';
import { P_TOLERANCE, rederive } from '../../src/study/rederive.js';
import { holmAdjusted, logRankP, rankSumP } from '../../src/study/rederive_stats.js';
import { holm } from '../../src/study/stats.js';
import { STUDY_FILE, type StudyFile } from '../../src/study/study.js';
import type { SurvivalObservation } from '../../src/study/survival.js';
import { decideClaims, type EndpointSamples, type PrimaryEndpoint } from '../../src/study/verdict.js';
import { FIXTURE_FAILURE_AT_4, FIXTURE_SPIKES_AT_2, writeStudyFixture } from '../figures/study_fixture.js';
import { tempDir } from '../train/fixtures.js';

// The fixture (test/figures/study_fixture.ts) plants late spikes in adamw's runs at 2× only, and at
// 4× every adamw run diverges and one muon run of three: per-run values, and survival with events.
const spikesAt2 = FIXTURE_SPIKES_AT_2;
const lossAt1: PrimaryEndpoint = { ...spikesAt2, subClaim: 'b', multipliers: [1], metric: 'final eval loss', detector: null };
const failureAt4 = FIXTURE_FAILURE_AT_4;

let root: string;
let bundle: string;

const readPrimary = (dir: string) => JSON.parse(readFileSync(join(dir, PRIMARY_FILE), 'utf8')) as PrimaryFile;

/** A copy of the published bundle with primary.json (or another file) edited. */
function tampered(name: string, edit: (f: PrimaryFile) => PrimaryFile): string {
  const dir = join(root, name);
  cpSync(bundle, dir, { recursive: true });
  writeFileSync(join(dir, PRIMARY_FILE), JSON.stringify(edit(readPrimary(dir))));
  return dir;
}

/** primary.json with row i's fields overwritten by `change(row)` (which may break the format on purpose). */
const editRow = (f: PrimaryFile, i: number, change: (r: FileRow) => Record<string, unknown>): PrimaryFile => ({
  ...f,
  decision: { ...f.decision!, rows: f.decision!.rows.map((r, k) => (k === i ? { ...r, ...change(r) } : r)) },
});

beforeAll(async () => {
  await initBackend();
  root = tempDir('rederive-');
  const study = join(root, 'study');
  writeStudyFixture(study);
  const path = join(study, STUDY_FILE);
  const file = JSON.parse(readFileSync(path, 'utf8')) as StudyFile;
  writeFileSync(path, JSON.stringify({ ...file, spec: { ...file.spec, primary: [spikesAt2, lossAt1, failureAt4] } }));
  bundle = join(root, 'results', 'v3');
  expect((await cli(['publish', study, '--out', bundle])).status).toBe(0);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe('primary.json in a published bundle', () => {
  it('holds each endpoint with the per-run samples per optimizer, p, Holm decision and verdict of the analysis', () => {
    const f = readPrimary(bundle);
    const d = analyzeStudy(bundle).primary!.decision!;
    expect(f.family).toEqual([spikesAt2, lossAt1, failureAt4]);
    expect(f.decision!.rows.map((r) => r.endpoint.subClaim)).toEqual(['a', 'b', 'c']);
    const [a, b, c] = f.decision!.rows;
    // Three runs a side: adamw one late spike in the 60-step last half (16.7/1k), muon none.
    expect(a!.samples).toEqual({ kind: 'values', treatment: [0, 0, 0], baseline: [1000 / 60, 1000 / 60, 1000 / 60] });
    expect(a!.test.method).toBe('exact-midrank');
    expect(b!.samples!.kind).toBe('values');
    expect(b!.samples!.treatment).toHaveLength(3);
    // Failure at 4×: adamw diverges at steps 40, 50, 60; muon only seed 2, at 90.
    expect(c!.samples!.kind).toBe('survival');
    expect(c!.samples!.baseline.filter((o) => (o as SurvivalObservation).event)).toHaveLength(3);
    expect(c!.samples!.treatment.filter((o) => (o as SurvivalObservation).event)).toHaveLength(1);
    expect(f.unmeasured).toEqual([]);
    expect(f.decision!.rows.map((r) => r.unmeasured)).toEqual([null, null, null]);
    expect(c!.test).toEqual({ method: 'permutation', seed: 0, permutations: 100_000 });
    f.decision!.rows.forEach((r, i) => {
      const p = d.primary[i]!;
      expect([r.p, r.holmP, r.rejected, r.verdict, r.observed]).toEqual([p.p, p.holmP, p.rejected, p.verdict, p.observed]);
    });
  });
});

describe('a family without verdicts', () => {
  it('a v2 bundle (no family) has nothing to re-derive; a registered family always decides, so a missing decision is a problem, unmeasured endpoints or not', () => {
    const f = readPrimary(bundle);
    expect(rederive({ ...f, family: null, decision: null })).toEqual({ rows: [], problems: [], notes: [expect.stringMatching(/no pre-registered primary family/)] });
    const noDecision = [expect.stringMatching(/no decision, yet a family is registered/)];
    expect(rederive({ ...f, decision: null }).problems).toEqual(noDecision);
    // Version 1's way of stating a hole (no decision, the endpoint listed) is no longer a valid bundle.
    expect(rederive({ ...f, decision: null, unmeasured: [{ subClaim: 'c', why: 'arm qkNorm did not run' }] }).problems).toEqual(noDecision);
  });
});

describe('verify-bundle', () => {
  it('re-derives every p, Holm decision and verdict of the published bundle, and REPORT.md agrees', async () => {
    const { status, out, errors } = await cli(['verify-bundle', bundle]);
    expect(status, errors.join('\n')).toBe(0);
    const rows = out.split('\n').filter((l) => /^\| \([abc]\)/.test(l));
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(r).toMatch(/\| yes +\|$/);
    expect(out).toContain('| endpoint');
    expect(out).toContain("REPORT.md's verdicts agree");
    expect(errors.at(-1)).toMatch(/every verdict re-derives$/);
  }, 60_000);

  const caught = async (dir: string, pattern: RegExp) => {
    const { status, out, errors } = await cli(['verify-bundle', dir]);
    expect(status).toBe(1);
    expect(errors.join('\n')).toMatch(pattern);
    return out;
  };

  it('catches a p edited after publishing', async () => {
    const dir = tampered('p', (f) => editRow(f, 0, (r) => ({ p: r.p * (1 + 1e-6) })));
    const out = await caught(dir, /disagreement: \(a\) tiny-moe no arm 2× late spikes\/1k \(median\): the bundle states p/);
    expect(out.split('\n').find((l) => l.startsWith('| (a)'))).toMatch(/\| +0\.1000001 +\| +0\.1 +\| .* \| NO +\|$/);
  }, 60_000);

  it('catches a sample edited after publishing: one run of the treatment now spiking', async () => {
    const dir = tampered('sample', (f) => editRow(f, 0, (r) => ({ samples: { ...r.samples, treatment: [50, 0, 0] } })));
    await caught(dir, /\(a\) .*re-derived p /);
  }, 60_000);

  it('catches a survival observation edited after publishing', async () => {
    const dir = tampered('survival', (f) =>
      editRow(f, 2, (r) => ({ samples: { kind: 'survival', treatment: r.samples!.treatment, baseline: (r.samples!.baseline as SurvivalObservation[]).map((o) => ({ ...o, event: false })) } })),
    );
    await caught(dir, /\(c\) .*re-derived p /);
  }, 60_000);

  it('catches a verdict, a Holm decision or a family changed after publishing', async () => {
    await caught(tampered('verdict', (f) => editRow(f, 1, () => ({ verdict: 'supported' }))), /\(b\) .*supported; re-derived .*inconclusive/);
    await caught(tampered('rejected', (f) => editRow(f, 1, () => ({ rejected: true }))), /\(b\) .*, rejected, .*; re-derived .*, not rejected, /);
    // Dropping an endpoint shrinks the family Holm corrects over: the rows are no longer the registered family.
    await caught(
      tampered('dropped', (f) => ({ ...f, decision: { ...f.decision!, rows: f.decision!.rows.slice(0, 2) } })),
      /decided endpoints \(a, b\) are not the pre-registered family \(a, b, c\)/,
    );
    // And the family changed in primary.json alone no longer matches the study spec in bundle.json.
    await caught(
      tampered('family', (f) => ({ ...f, family: f.family!.slice(0, 2), decision: { ...f.decision!, rows: f.decision!.rows.slice(0, 2) } })),
      /primary\.json's family is not the one bundle\.json's study spec pre-registers/,
    );
  }, 120_000);

  it("catches a REPORT.md whose verdict table says something else", async () => {
    const dir = join(root, 'report');
    cpSync(bundle, dir, { recursive: true });
    const path = join(dir, REPORT_FILE);
    const text = readFileSync(path, 'utf8');
    const row = text.split('\n').find((l) => l.startsWith('| (b) |'))!;
    expect(row).toContain('| inconclusive |');
    writeFileSync(path, text.replace(row, row.replace('| inconclusive |', '| **supported** |')));
    await caught(dir, /REPORT\.md states \(b\) supported, re-derived inconclusive/);
  }, 60_000);

  it('refuses a bundle without primary.json, or with a malformed one, in one line (exit 2)', async () => {
    const dir = join(root, 'none');
    cpSync(bundle, dir, { recursive: true });
    rmSync(join(dir, PRIMARY_FILE));
    let r = await cli(['verify-bundle', dir]);
    expect(r.status).toBe(2);
    expect(r.errors).toEqual([expect.stringMatching(/primary\.json: not found; publish the study again/)]);
    r = await cli(['verify-bundle', tampered('nan', (f) => editRow(f, 0, (x) => ({ samples: { ...x.samples, treatment: ['x', 0, 0] } })))]);
    expect(r.status).toBe(2);
    expect(r.errors[0]).toMatch(/row 1: samples must be finite numbers/);
    // A version-1 file (a hole meant no decision) is refused rather than misread.
    r = await cli(['verify-bundle', tampered('v1', (f) => ({ ...f, version: 1 }))]);
    expect(r.status).toBe(2);
    expect(r.errors[0]).toMatch(/version 1, this code reads version 2/);
    // Only an unmeasured row may go without samples.
    r = await cli(['verify-bundle', tampered('nosamples', (f) => editRow(f, 1, () => ({ samples: null })))]);
    expect(r.status).toBe(2);
    expect(r.errors[0]).toMatch(/row 2: no samples, yet the endpoint is not listed as unmeasured/);
  }, 60_000);
});

describe('a family with an unmeasured endpoint', () => {
  // (b) at 16×: the fixture's ladder stops at 4×, so the analysis cannot measure it.
  const lossAt16: PrimaryEndpoint = { ...lossAt1, multipliers: [16] };
  let holed: string;
  beforeAll(async () => {
    const study = join(root, 'study-holed');
    writeStudyFixture(study);
    const path = join(study, STUDY_FILE);
    const file = JSON.parse(readFileSync(path, 'utf8')) as StudyFile;
    writeFileSync(path, JSON.stringify({ ...file, spec: { ...file.spec, primary: [spikesAt2, lossAt16, failureAt4] } }));
    holed = join(root, 'results', 'holed');
    expect((await cli(['publish', study, '--out', holed])).status).toBe(0);
  }, 120_000);

  it('primary.json writes its row with the reason, no samples, p = 1 and Holm p as decided, and lists it at the top', () => {
    const f = readPrimary(holed);
    const d = analyzeStudy(holed).primary!.decision;
    const [a, b, c] = f.decision!.rows;
    expect(f.unmeasured).toEqual([{ subClaim: 'b', why: 'no stress cell at 16×' }]);
    expect(b).toEqual({
      endpoint: lossAt16,
      unmeasured: 'no stress cell at 16×',
      multipliersUsed: [],
      test: { method: null, seed: 0, permutations: null },
      samples: null,
      p: 1,
      observed: null,
      holmP: d.primary[1]!.holmP,
      rejected: false,
      verdict: 'inconclusive',
    });
    // The measured endpoints keep their data, and Holm corrects over the registered three, not the
    // two measured: (a)'s Holm p is larger than it would be in the shrunk family.
    expect([a!.unmeasured, c!.unmeasured]).toEqual([null, null]);
    expect(a!.samples!.kind).toBe('values');
    expect(c!.samples!.kind).toBe('survival');
    expect([a!.holmP, b!.holmP, c!.holmP]).toEqual(holm([a!.p, 1, c!.p]));
    expect(a!.holmP).toBeGreaterThan(holm([a!.p, c!.p])[0]!);
  });

  it('verify-bundle re-derives it (p = 1 in its own Holm) and agrees with REPORT.md', async () => {
    const { status, out, errors } = await cli(['verify-bundle', holed]);
    expect(status, errors.join('\n')).toBe(0);
    const row = out.split('\n').find((l) => l.startsWith('| (b)'))!;
    expect(row).toMatch(/^\| \(b\) tiny-moe no arm not measured final eval loss +\| +1 +\| +1 +\| inconclusive .*\| yes +\|$/);
    expect(out).toMatch(/Holm over the 3 endpoint\(s\) at α = 0\.05 \(the bundle's\), 1 of them not measured and entered as p = 1: \(b\) no stress cell at 16×/);
    expect(out).toContain("REPORT.md's verdicts agree");
  }, 60_000);

  it("catches its p edited away from 1, data given to it, or the top-level list disagreeing with its row", async () => {
    const rows = (f: PrimaryFile) => f.decision!.rows;
    const copy = (name: string, edit: (f: PrimaryFile) => PrimaryFile) => {
      const dir = join(root, name);
      cpSync(holed, dir, { recursive: true });
      writeFileSync(join(dir, PRIMARY_FILE), JSON.stringify(edit(readPrimary(dir))));
      return dir;
    };
    const verify = async (dir: string) => cli(['verify-bundle', dir]);
    let r = await verify(copy('holed-p', (f) => editRow(f, 1, () => ({ p: 0.001 }))));
    expect(r.status).toBe(1);
    expect(r.errors.join('\n')).toMatch(/\(b\) .*not measured.*: the bundle states p 0\.001, .*; re-derived p 1, /);
    // The re-derivation puts 1 into Holm whatever the row states: the other rows still agree.
    expect(r.out.split('\n').filter((l) => /^\| \([ac]\)/.test(l)).every((l) => /\| yes +\|$/.test(l))).toBe(true);
    r = await verify(copy('holed-samples', (f) => editRow(f, 1, () => ({ samples: rows(readPrimary(bundle))[1]!.samples }))));
    expect(r.status).toBe(1);
    expect(r.errors.join('\n')).toMatch(/\(b\) .*listed as not measured \(no stress cell at 16×\), yet it states samples/);
    r = await verify(copy('holed-list', (f) => ({ ...f, unmeasured: [] })));
    expect(r.status).toBe(1);
    expect(r.errors.join('\n')).toMatch(/rows not measured \(\(b\) no stress cell at 16×\) are not the ones listed as unmeasured \(none\)/);
  }, 120_000);
});

describe('the independent statistics agree with the analysis', () => {
  const rng = new Rng(11);
  /** Values on a coarse grid, so ties are common. */
  const values = (n: number, shift: number) => Array.from({ length: n }, () => Math.round(rng.normal() * 2 + shift) / 2);
  const survival = (n: number, hazard: number): SurvivalObservation[] =>
    Array.from({ length: n }, () => {
      const t = Math.ceil(-Math.log(1 - rng.next()) / hazard);
      // Administrative censoring at 100 steps, as in the study.
      return t <= 100 ? { time: t, event: true } : { time: 100, event: false };
    });

  it('rank-sum p: exact (with and without ties) and Monte Carlo, as exact.ts computes it', () => {
    for (let trial = 0; trial < 30; trial++) {
      const [m, n] = [1 + rng.int(25), 1 + rng.int(25)];
      const [a, b] = trial % 3 === 0 ? [Array.from({ length: m }, () => rng.normal()), Array.from({ length: n }, () => rng.normal() + 0.5)] : [values(m, 0), values(n, 0.7)];
      const main = rankSumTest(a, b);
      const mine = rankSumP(a, b, null);
      expect(Math.abs(mine - main.pValue), `${main.method} ${a} | ${b}`).toBeLessThanOrEqual(P_TOLERANCE * main.pValue);
      // Without ties exact.ts always takes U's exact distribution; with ties a zero cost limit forces Monte Carlo.
      if (main.method === 'exact') continue;
      const mc = rankSumTest(a, b, { exactLimit: 0, permutations: 500, seed: trial });
      expect(mc.method).toBe('monte-carlo');
      expect(rankSumP(a, b, { seed: trial, permutations: 500 })).toBe(mc.pValue);
    }
  });

  it('rank-sum p at the far tail: complete separation at 20 vs 20 (2/C(40, 20)) and 49 vs 49, relative to 1e-9', () => {
    for (const n of [20, 49]) {
      const [a, b] = [Array.from({ length: n }, (_, i) => i), Array.from({ length: n }, (_, i) => n + i + 0.5)];
      const main = rankSumTest(a, b);
      expect(main.method).toBe('exact');
      let c = 1;
      for (let k = 1; k <= n; k++) c = (c * (n + k)) / k;
      expect(main.pValue / (2 / c)).toBeCloseTo(1, 9);
      expect(Math.abs(rankSumP(a, b, null) - main.pValue)).toBeLessThanOrEqual(P_TOLERANCE * main.pValue);
    }
  });

  it('permutation log-rank p and direction, as exact.ts computes them', () => {
    for (let trial = 0; trial < 12; trial++) {
      const a = survival(3 + rng.int(10), 0.01);
      const b = survival(3 + rng.int(10), 0.03);
      const main = logRankPermutation(a, b, { seed: trial, permutations: 2000 });
      const mine = logRankP(a, b, { seed: trial, permutations: 2000 });
      expect(mine.p).toBe(main.permutationP);
      expect(Math.sign(mine.oMinusE)).toBe(Math.sign(main.observedA - main.expectedA));
    }
  });

  it('Holm, as stats.ts computes it, with ties', () => {
    for (let trial = 0; trial < 50; trial++) {
      const ps = Array.from({ length: 1 + rng.int(8) }, () => (rng.next() < 0.3 ? 0.01 : rng.next() * 0.2));
      expect(holmAdjusted(ps)).toEqual(holm(ps));
    }
  });

  it('decided families re-derive: supported, contradicted and Monte-Carlo rank-sum endpoints', () => {
    const ids = ['a', 'b', 'c', 'd'] as const;
    const family = ids.map((subClaim, i): PrimaryEndpoint => ({ ...spikesAt2, subClaim, ...(i === 3 ? { metric: 'time to failure', detector: null, test: 'log-rank' as const } : {}) }));
    const range = (n: number, from: number) => Array.from({ length: n }, (_, i) => from + i);
    const samples: Record<(typeof ids)[number], EndpointSamples> = {
      a: { kind: 'values', treatment: range(20, 0), baseline: range(20, 15) },
      b: { kind: 'values', treatment: range(10, 8), baseline: range(10, 0) },
      // 70 a side with ties is past the exact enumeration's cost limit: Monte Carlo.
      c: { kind: 'values', treatment: values(70, 0), baseline: values(70, 0.3) },
      d: { kind: 'survival', treatment: survival(20, 0.002), baseline: survival(20, 0.05) },
    };
    const decision = decideClaims(family, samples);
    expect(decision.primary.map((p) => p.verdict)).toEqual(['supported', 'contradicted', expect.any(String), 'supported']);
    expect(decision.primary[2]!.method).toBe('monte-carlo');
    const file = primaryFileOf({ family, decision, unmeasured: [], multipliersUsed: {} }, { treatment: 'muon', baseline: 'adamw' });
    const r = rederive(file);
    expect(r.problems).toEqual([]);
    expect(r.rows.map((x) => x.rederived.verdict)).toEqual(decision.primary.map((p) => p.verdict));
    expect(r.rows.every((x) => x.agree)).toBe(true);
  }, 60_000);
});

describe('independence', () => {
  /** Every src/ file the module reaches through relative imports (type-only ones too). */
  function reach(file: string, seen = new Set<string>()): Set<string> {
    if (seen.has(file)) return seen;
    seen.add(file);
    for (const { fileName } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (fileName.startsWith('.')) reach(resolve(dirname(file), fileName).replace(/\.js$/, '.ts'), seen);
    }
    return seen;
  }

  it("the re-derivation imports none of the statistics it checks, directly or through another module", () => {
    const src = resolve(import.meta.dirname, '../../src');
    const reached = [...reach(join(src, 'study/rederive.ts'))].map((p) => p.slice(src.length + 1)).sort();
    expect(reached).toContain('study/rederive_stats.ts');
    for (const checked of ['study/exact.ts', 'study/verdict.ts', 'study/stats.ts', 'study/survival.ts', 'study/primary.ts', 'study/primary_export.ts']) {
      expect(reached).not.toContain(checked);
    }
  });
});
