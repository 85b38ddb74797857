/**
 * The answer first: a synthetic study with a pre-registered primary family reports its verdicts
 * table and forest plot before the protocol; an endpoint the runs could not measure is inconclusive
 * with its reason, enters Holm as p = 1 and leaves the rest decided; a v2 study (no family) still reports, labelled as such. An endpoint on the
 * long-horizon phase reads that phase's cells and is named so in the table and the forest plot.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FOREST_ID, forestFigure } from '../../src/figures/forest.js';
import { writeStudyPages } from '../../src/figures/pages.js';
import { renderSvg } from '../../src/figures/render.js';
import { studyFigures } from '../../src/figures/study_figures.js';
import { analyzeCells, analyzeStudy } from '../../src/study/analyze.js';
import { collectCells } from '../../src/study/cells.js';
import type { StudyRun } from '../../src/study/collect.js';
import { longHorizon } from '../../src/study/long_width.js';
import { longDirName, stressDirName, validateStudy, type StudySpec } from '../../src/study/protocol.js';
import { renderReport } from '../../src/study/report.js';
import { STUDY_FILE, type StudyFile } from '../../src/study/study.js';
import type { PrimaryEndpoint } from '../../src/study/verdict.js';
import { FIXTURE_FAILURE_AT_4, FIXTURE_SPIKES_AT_2, writeStudyFixture } from '../figures/study_fixture.js';
import type { StepRecord } from '../../src/train/loop.js';
import { digestRun } from '../../src/study/digest.js';
import type { RunSummary } from '../../src/train/run.js';
import { fakeSummary, tempDir, tinyLm } from '../train/fixtures.js';

// The fixture plants median/zscore spikes in adamw's runs at 2× (steps 30, 60, 90 of 120: one in
// the last half) and none in muon's; at 4× every adamw run diverges and one muon run of three.
const spikesAt2 = FIXTURE_SPIKES_AT_2;
const failureAt4 = FIXTURE_FAILURE_AT_4;

let root: string;
const dirs: Record<string, string> = {};

function studyWith(name: string, primary: readonly PrimaryEndpoint[] | undefined): string {
  const dir = join(root, name);
  writeStudyFixture(dir);
  const path = join(dir, STUDY_FILE);
  const file = JSON.parse(readFileSync(path, 'utf8')) as StudyFile;
  if (primary) writeFileSync(path, JSON.stringify({ ...file, spec: { ...file.spec, primary } }));
  return dir;
}

beforeAll(() => {
  root = tempDir('primary-report-');
  dirs.v3 = studyWith('v3', [spikesAt2, failureAt4]);
  dirs.hole = studyWith('hole', [spikesAt2, { ...failureAt4, arm: 'qkNorm' }]);
  dirs.v2 = studyWith('v2', undefined);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the primary family in the report', () => {
  it('decides each pre-registered endpoint from the runs: values per run, Holm over the family of 2', () => {
    const r = analyzeStudy(dirs.v3!);
    const d = r.primary!.decision;
    expect(d.primary.map((p) => p.endpoint.subClaim)).toEqual(['a', 'c']);
    const [a, c] = d.primary;
    // Three runs a side: adamw 1 late spike in 60 steps (16.7/1k), muon none.
    expect(a!.nTreatment).toBe(3);
    expect(a!.shift!.estimate).toBeCloseTo(-1000 / 60, 6);
    expect(a!.observed).toBe('treatment-lower');
    // Exact two-sided p at 3 vs 3 with complete separation is 0.1: inconclusive, with no detectable effect.
    expect(a!.p).toBeCloseTo(0.1, 10);
    expect(a!.verdict).toBe('inconclusive');
    expect(c!.events).toBe(4);
    expect(c!.holmP).toBeGreaterThanOrEqual(c!.p);
  });

  it('opens REPORT.md with the verdicts table and the family, before the protocol', () => {
    const r = analyzeStudy(dirs.v3!);
    const text = renderReport(r, '', '### Forest plot\n\n![f](figures/forest-primary.svg)');
    const verdicts = text.indexOf('## Sub-claim verdicts');
    expect(verdicts).toBeGreaterThan(0);
    expect(verdicts).toBeLessThan(text.indexOf('## Protocol'));
    expect(text.indexOf('![f](figures/forest-primary.svg)')).toBeLessThan(text.indexOf('## Protocol'));
    expect(text).toMatch(/\| \(a\) \| tiny-moe, no arm, 2×, late spikes\/1k \(median\) \| 3 \/ 3 \| .* \| 0\.1 \| .* \| inconclusive \| none: exact p ≥ 0\.1 > 0\.025 \|/);
    expect(text).toContain('### Pre-registered primary family (from study.json)');
    expect(text).toContain('*Exploratory*: the verdicts of this section follow the v2 rule');
    // The protocol and the multiplicity summary say the family-wise intervals decide no sub-claim here.
    expect(text).toContain('the exploratory claim check at the end uses the family-wise intervals (the sub-claim verdicts at the top come from the pre-registered primary family');
    expect(text).toMatch(/that exclude 0: \d+ — they count only in the exploratory claim check at the end; the sub-claim verdicts at the top come from the pre-registered primary family\./);
    expect(text).not.toContain('every verdict uses the family-wise intervals');
    expect(text).not.toContain('only these count in the verdicts');
  });

  it('draws the forest plot: one interval and one point per endpoint, coloured by verdict', async () => {
    const r = analyzeStudy(dirs.v3!);
    const f = studyFigures(r)[0]!;
    expect(f.id).toBe(FOREST_ID);
    const { svg, warnings } = await renderSvg(f.spec);
    expect(warnings).toEqual([]);
    // One row per endpoint, each with its own interval and point (mark names are per row).
    for (const i of [0, 1]) {
      expect(svg).toMatch(new RegExp(`interval${i}_marks`));
      expect(svg).toMatch(new RegExp(`point${i}_marks`));
    }
    expect(svg).not.toMatch(/interval2_marks/);
    expect(svg).toContain('#8a8f98');
  });

  it('opens report.html with the verdicts table, then the forest plot as its first section', async () => {
    const r = analyzeStudy(dirs.v3!);
    const pages = await writeStudyPages(dirs.v3!, r);
    const html = readFileSync(pages.htmlPath, 'utf8');
    const table = html.indexOf('<table class="answer">');
    expect(table).toBeGreaterThan(0);
    expect(html.slice(table)).toMatch(/^<table class="answer"><thead><tr><th>sub-claim<\/th>.*<td>\(a\)<\/td>.*<td>\(c\)<\/td>/);
    expect(table).toBeLessThan(html.indexOf('<section><h2>Sub-claim verdicts</h2>\n<figure id="fig-forest-primary"'));
    expect(html.indexOf('<section>')).toBe(html.indexOf('<section><h2>Sub-claim verdicts</h2>'));
    expect(pages.answerMarkdown).toContain('figures/forest-primary.svg');
    expect(pages.markdown).not.toContain('forest-primary');
  });

  it('an endpoint not measured is inconclusive with its reason, enters Holm as p = 1, and the rest is decided', async () => {
    const r = analyzeStudy(dirs.hole!);
    expect(r.primary!.unmeasured.map((u) => u.endpoint.subClaim)).toEqual(['c']);
    const [a, c] = r.primary!.decision.primary;
    expect(c).toMatchObject({ p: 1, holmP: 1, verdict: 'inconclusive', observed: null, shift: null, detectable: null, unmeasured: 'arm qkNorm did not run at 4×' });
    // (a) is measured as in the full family, and Holm still counts 2 endpoints: its p 0.1 sorts first, × 2.
    expect(a!.unmeasured).toBeNull();
    expect(a!.p).toBeCloseTo(0.1, 10);
    expect(a!.holmP).toBeCloseTo(0.2, 10);
    const text = renderReport(r);
    expect(text).not.toContain('No verdict');
    expect(text).toContain('**Not measured**: (c) arm qkNorm did not run at 4×. Each entered Holm with p = 1 and is inconclusive; the family keeps its 2 endpoints');
    expect(text).toMatch(/\| \(a\) \| tiny-moe, no arm, 2×, late spikes\/1k \(median\) \| 3 \/ 3 \| .* \| 0\.1 \| 0\.2 \| inconclusive \|/);
    expect(text).toContain('| (c) | tiny-moe, arm qkNorm, 4×, time to failure | — | — | — (1 in Holm) | 1 | inconclusive | not measured: arm qkNorm did not run at 4× |');
    // The forest plot keeps the row, labelled, with the zero line and no interval or point.
    const f = forestFigure(r.primary!, 'muon', 'adamw');
    expect(JSON.stringify(f.spec)).toContain('(c) tiny-moe qkNorm 4× time to failure: not measured (arm qkNorm did not run at 4×)');
    const { svg, warnings } = await renderSvg(f.spec);
    expect(warnings).toEqual([]);
    expect(svg).toMatch(/interval0_marks/);
    expect(svg).toMatch(/point0_marks/);
    expect(svg).not.toMatch(/interval1_marks|point1_marks/);
    expect(svg).toContain('not measured');
  });

  it('reports a v2 study without a family, labelled so, with its v2 numbers', () => {
    const r = analyzeStudy(dirs.v2!);
    expect(r.primary).toBeNull();
    const text = renderReport(r);
    expect(text.indexOf('pre-registered **no primary family**')).toBeLessThan(text.indexOf('## Protocol'));
    // v2's own rule, as it always read.
    expect(text).toContain('**every verdict uses the family-wise intervals**');
    expect(text).toContain('only these count in the verdicts.');
    expect(studyFigures(r).some((f) => f.id === FOREST_ID)).toBe(false);
  });

  it('refuses a spec whose primary endpoint names a task or multiplier the study does not run', () => {
    const spec = JSON.parse(readFileSync(join(dirs.v3!, STUDY_FILE), 'utf8')).spec;
    expect(() => validateStudy({ ...spec, primary: [{ ...spikesAt2, task: 'lm-moe' }] })).toThrow(/names task lm-moe/);
    expect(() => validateStudy({ ...spec, primary: [{ ...spikesAt2, multipliers: [16] }] })).toThrow(/multiplier\(s\) 16/);
    expect(() => validateStudy({ ...spec, primary: [{ ...spikesAt2, detector: null }] })).toThrow(/needs its detector/);
  });
});

describe('a primary endpoint on the long-horizon phase', () => {
  // (a) reads the long-horizon cell at 1×, (b) the same measure in the 1× stress cell. The runs
  // make the two cells disagree: in the long runs AdamW spikes once in the last half and Muon never;
  // in the stress runs the reverse. So each endpoint's sign says which cells it read.
  const spikesA: PrimaryEndpoint = { ...spikesAt2, task: 'tiny-lm', multipliers: [1], phase: 'long' };
  const spec: StudySpec = {
    name: 'long-primary',
    description: 'test fixture',
    tasks: [{ experiment: 'tiny-lm' }],
    baseline: 'adamw',
    treatment: 'muon',
    seeds: [0, 1, 2],
    tune: { grid: { adamw: [1e-3, 1e-2], muon: [0.01, 0.1] }, steps: 5 },
    stress: { multipliers: [1], steps: 40 },
    long: { tasks: ['tiny-lm'], multipliers: [1], seeds: [0, 1, 2, 3], tokensPerActiveParam: 0.5 },
    primary: [spikesA, { ...spikesA, subClaim: 'b', phase: undefined }],
  };
  const experiments = new Map([['tiny-lm', tinyLm]]);
  const longSteps = longHorizon(spec, experiments, spec.tasks[0]!).steps;

  function run(name: string, steps: number, spikeAt: number | null): StudyRun {
    const metrics: StepRecord[] = Array.from({ length: steps }, (_, i) => ({
      step: i + 1,
      loss: 2,
      gradNorm: 1,
      updateRms: {},
      lr: 0.01,
      ms: 1,
      ...(i + 1 === spikeAt ? { spikes: ['median'] } : {}),
    }));
    const events = spikeAt === null ? 0 : 1;
    const optimizer = name.includes('__muon__') ? 'muon' : 'adamw';
    const summary = fakeSummary({
      experiment: 'tiny-lm',
      optimizer,
      optimizerName: optimizer,
      steps,
      plannedSteps: steps,
      finalLoss: 2,
      initialLoss: 4,
      evalLoss: 2,
      spikes: { median: events },
      spikeDetails: { median: { events, flaggedSteps: events, firstStep: spikeAt } },
    });
    return { name, summary, digest: digestRun(metrics, steps) };
  }
  const runs = new Map<string, StudyRun>();
  const add = (r: StudyRun) => runs.set(r.name, r);
  for (const seed of spec.long!.seeds) {
    add(run(longDirName('tiny-lm', 'adamw', 1, seed), longSteps, longSteps - 1));
    add(run(longDirName('tiny-lm', 'muon', 1, seed), longSteps, null));
  }
  for (const seed of spec.seeds) {
    add(run(stressDirName('tiny-lm', 'adamw', 1, seed), 40, null));
    add(run(stressDirName('tiny-lm', 'muon', 1, seed), 40, 30));
  }

  it('reads the long-horizon cells: their seeds, their horizon’s last half', () => {
    expect(() => validateStudy(spec)).not.toThrow();
    const r = analyzeCells(collectCells({ spec, experiments: { 'tiny-lm': tinyLm }, runs }));
    const [a, b] = r.primary!.decision.primary;
    expect([a!.nTreatment, a!.nBaseline]).toEqual([4, 4]);
    // One event in the last half of the long horizon (steps > ⌊steps/2⌋) per AdamW run.
    expect(a!.shift!.estimate).toBeCloseTo(-1000 / (longSteps - Math.floor(longSteps / 2)), 6);
    expect(a!.observed).toBe('treatment-lower');
    expect([b!.nTreatment, b!.nBaseline]).toEqual([3, 3]);
    expect(b!.shift!.estimate).toBeCloseTo(1000 / 20, 6);
    expect(b!.observed).toBe('treatment-higher');
    // The report and the forest plot name the long-horizon cell where they name cells.
    const text = renderReport(r);
    expect(text).toMatch(/\| \(a\) \| tiny-lm, long-horizon phase, no arm, 1×, late spikes\/1k \(median\) \| 4 \/ 4 \|/);
    expect(text).toMatch(/\| \(b\) \| tiny-lm, no arm, 1×, late spikes\/1k \(median\) \| 3 \/ 3 \|/);
    expect(text).toContain('- (a) tiny-lm, long-horizon phase, no arm, 1×, late spikes/1k (median); supports');
    const titles = JSON.stringify(forestFigure(r.primary!, 'muon', 'adamw')!.spec);
    expect(titles).toContain('(a) tiny-lm long-horizon 1× late spikes/1k (median)');
    expect(titles).toContain('(b) tiny-lm 1× late spikes/1k (median)');
  });

  it('is unmeasured without long-horizon runs, and refused on a task or multiplier that phase never runs', () => {
    const stressOnly = new Map([...runs].filter(([name]) => !name.startsWith('long__')));
    const r = analyzeCells(collectCells({ spec, experiments: { 'tiny-lm': tinyLm }, runs: stressOnly }));
    expect(r.primary!.unmeasured.map((u) => [u.endpoint.subClaim, u.why])).toEqual([['a', expect.stringMatching(/has no sample at 1×/)]]);
    // (b), on the stress cells, is still decided, at the same p as with the long runs present.
    const [a, b] = r.primary!.decision.primary;
    expect([a!.verdict, a!.p, a!.unmeasured]).toEqual(['inconclusive', 1, expect.stringMatching(/has no sample at 1×/)]);
    expect(b!.observed).toBe('treatment-higher');
    expect(b!.p).toBe(analyzeCells(collectCells({ spec, experiments: { 'tiny-lm': tinyLm }, runs })).primary!.decision.primary[1]!.p);
    expect(() => validateStudy({ ...spec, primary: [{ ...spikesA, multipliers: [2] }] })).toThrow(/multiplier\(s\) 2 that task tiny-lm's long-horizon runs never use/);
    const { long: _long, ...noLong } = spec;
    expect(() => validateStudy(noLong)).toThrow(/long-horizon runs never use/);
  });
});

describe('a time-to-failure endpoint at the first-failure rung', () => {
  // A ladder to 8× on tiny-lm, 3 seeds; failures are divergences (the failure rule's first criterion),
  // so no tuning runs are needed. (c) lists every rung and reads only the arms' rung.
  const failureC: PrimaryEndpoint = {
    subClaim: 'c',
    task: 'tiny-lm',
    arm: 'none',
    multipliers: [1, 2, 4, 8],
    metric: 'time to failure',
    detector: null,
    supportsWhen: 'treatment-lower',
    test: 'log-rank',
    rung: 'first-failure',
  };
  const spec: StudySpec = {
    name: 'rung-primary',
    description: 'test fixture',
    tasks: [{ experiment: 'tiny-lm', arms: ['qkNorm'] }],
    baseline: 'adamw',
    treatment: 'muon',
    seeds: [0, 1, 2],
    tune: { grid: { adamw: [1e-3, 1e-2], muon: [0.01, 0.1] }, steps: 5 },
    stress: { multipliers: [1], steps: 40, ladder: { cap: 8 } },
    primary: [failureC],
  };
  const summary = (label: string, diverged: boolean): RunSummary =>
    fakeSummary({
      experiment: 'tiny-lm',
      optimizer: label,
      optimizerName: label,
      steps: diverged ? 10 : 40,
      plannedSteps: 40,
      finalLoss: diverged ? NaN : 2,
      initialLoss: 4,
      evalLoss: diverged ? null : 2,
      diverged,
      divergedAtStep: diverged ? 10 : null,
    });
  /** Stress runs at each rung given: per optimizer, how many of its 3 seeds diverge there. */
  function ladder(failures: Record<number, { adamw: number; muon: number }>): Map<string, StudyRun> {
    const runs = new Map<string, StudyRun>();
    for (const [m, byLabel] of Object.entries(failures)) {
      for (const label of ['adamw', 'muon'] as const) {
        for (const seed of spec.seeds) {
          const name = stressDirName('tiny-lm', label, Number(m), seed);
          runs.set(name, { name, summary: summary(label, seed < byLabel[label]), digest: undefined });
        }
      }
    }
    return runs;
  }
  const decide = (runs: Map<string, StudyRun>) => {
    const cells = collectCells({ spec, experiments: { 'tiny-lm': tinyLm }, runs });
    return { outcome: analyzeCells(cells).primary!, arms: cells.tasks[0]!.arms };
  };

  it('reads the first rung where either optimizer failed in at least half its runs: the arms’ rung', () => {
    expect(() => validateStudy(spec)).not.toThrow();
    // 1×: none; 2×: muon 1 of 3 (under half); 4×: adamw 2 of 3, muon 1; 8×: both all.
    const runs = ladder({ 1: { adamw: 0, muon: 0 }, 2: { adamw: 0, muon: 1 }, 4: { adamw: 2, muon: 1 }, 8: { adamw: 3, muon: 3 } });
    const { outcome, arms } = decide(runs);
    expect(outcome.multipliersUsed.c).toEqual([4]);
    expect(arms[0]!.multipliers[0]).toBe(4);
    const c = outcome.decision.primary[0]!;
    // The 4× cell alone: 3 runs a side, adamw 2 failures and muon 1 (1×, 2× and 8× pooled would give 3 + 5 runs more).
    expect([c.nTreatment, c.nBaseline, c.events]).toEqual([3, 3, 3]);
    expect(c.observed).toBe('treatment-lower');
    // Without the rung rule the same endpoint pools every listed rung: 12 runs a side.
    const pooled = analyzeCells(collectCells({ spec: { ...spec, primary: [{ ...failureC, rung: undefined }] }, experiments: { 'tiny-lm': tinyLm }, runs })).primary!;
    expect(pooled.multipliersUsed.c).toEqual([1, 2, 4, 8]);
    expect(pooled.decision.primary[0]!.nTreatment).toBe(12);
    const text = renderReport(analyzeCells(collectCells({ spec, experiments: { 'tiny-lm': tinyLm }, runs })));
    expect(text).toContain('| (c) | tiny-lm, no arm, first-failure rung (4×), time to failure | 3 / 3 |');
    expect(text).toContain('- (c) tiny-lm, no arm, first-failure rung (4×), time to failure; supports');
    expect(JSON.stringify(forestFigure(outcome, 'muon', 'adamw').spec)).toContain('(c) tiny-lm first-failure rung (4×) time to failure');
  });

  it('takes the lower rung when the optimizers first fail apart; the highest rung that ran when neither fails', () => {
    const apart = decide(ladder({ 1: { adamw: 0, muon: 0 }, 2: { adamw: 0, muon: 2 }, 4: { adamw: 3, muon: 3 } }));
    expect(apart.arms[0]!.multipliers).toEqual([2, 4]);
    expect(apart.outcome.multipliersUsed.c).toEqual([2]);
    expect(apart.outcome.decision.primary[0]!.events).toBe(2);
    // Neither fails by the cap: the ladder ran every rung, and the endpoint reads 8×, all censored.
    const none = decide(ladder({ 1: { adamw: 0, muon: 0 }, 2: { adamw: 0, muon: 0 }, 4: { adamw: 1, muon: 1 }, 8: { adamw: 1, muon: 0 } }));
    expect(none.outcome.multipliersUsed.c).toEqual([8]);
    expect(none.arms[0]!.multipliers).toEqual([8]);
    expect(none.outcome.decision.primary[0]).toMatchObject({ nTreatment: 3, nBaseline: 3, events: 1, verdict: 'inconclusive' });
    // No run at all: the first rung's cell is empty, so not measured, with why.
    expect(decide(new Map()).outcome.unmeasured.map((u) => u.why)).toEqual(['a side has no finished run']);
  });

  it('is refused on an arm, the long-horizon phase or a per-run value', () => {
    expect(() => validateStudy({ ...spec, primary: [{ ...failureC, arm: 'qkNorm' }] })).toThrow(/first-failure rung: needs arm none/);
    expect(() => validateStudy({ ...spec, primary: [{ ...failureC, metric: 'final eval loss', test: 'rank-sum' }] })).toThrow(/first-failure rung/);
    expect(() => validateStudy({ ...spec, primary: [{ ...failureC, rung: 'last' as 'first-failure' }] })).toThrow(/rung "last"/);
  });
});
