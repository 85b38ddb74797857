/**
 * The answer first: a synthetic study with a pre-registered primary family reports its verdicts
 * table and forest plot before the protocol; a family with an unmeasured endpoint decides nothing
 * and says why; a v2 study (no family) still reports, labelled as such. An endpoint on the
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
import { writeStudyFixture } from '../figures/study_fixture.js';
import type { StepRecord } from '../../src/train/loop.js';
import type { RunSummary } from '../../src/train/run.js';
import { tempDir, tinyLm } from '../train/fixtures.js';

// The fixture plants median/zscore spikes in adamw's runs at 2× (steps 30, 60, 90 of 120: one in
// the last half) and none in muon's; at 4× every adamw run diverges and one muon run of three.
const spikesAt2: PrimaryEndpoint = {
  subClaim: 'a',
  task: 'tiny-moe',
  arm: 'none',
  multipliers: [2],
  metric: 'late spikes/1k',
  detector: 'median',
  supportsWhen: 'treatment-lower',
  test: 'rank-sum',
};
const failureAt4: PrimaryEndpoint = { ...spikesAt2, subClaim: 'c', multipliers: [4], metric: 'time to failure', detector: null, test: 'log-rank' };

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
    const d = r.primary!.decision!;
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

  it('decides nothing when a pre-registered endpoint was not measured, and says which', () => {
    const r = analyzeStudy(dirs.hole!);
    expect(r.primary!.decision).toBeNull();
    expect(r.primary!.unmeasured.map((u) => u.endpoint.subClaim)).toEqual(['c']);
    expect(forestFigure(r.primary!, 'muon', 'adamw')).toBeNull();
    expect(renderReport(r)).toMatch(/\*\*No verdict\*\*: 1 pre-registered endpoint\(s\) could not be measured[\s\S]*- \(c\) tiny-moe, arm qkNorm.*arm qkNorm did not run/);
  });

  it('reports a v2 study without a family, labelled so, with its v2 numbers', () => {
    const r = analyzeStudy(dirs.v2!);
    expect(r.primary).toBeNull();
    const text = renderReport(r);
    expect(text.indexOf('pre-registered **no primary family**')).toBeLessThan(text.indexOf('## Protocol'));
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
    const summary: RunSummary = {
      experiment: 'tiny-lm',
      optimizer: name.includes('__muon__') ? 'muon' : 'adamw',
      optimizerName: name.includes('__muon__') ? 'muon' : 'adamw',
      seed: 0,
      lrScale: 1,
      steps,
      plannedSteps: steps,
      finalLoss: 2,
      minLoss: 2,
      initialLoss: 4,
      evalLoss: 2,
      spikes: { median: events },
      spikeDetails: { median: { events, flaggedSteps: events, firstStep: spikeAt } },
      diverged: false,
      divergedAtStep: null,
      interrupted: false,
      wallSeconds: 1,
      backend: 'wasm',
      configHash: '0',
    };
    return { name, summary, metrics };
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
    const [a, b] = r.primary!.decision!.primary;
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
    expect(r.primary!.decision).toBeNull();
    expect(r.primary!.unmeasured.map((u) => [u.endpoint.subClaim, u.why])).toEqual([['a', expect.stringMatching(/has no sample at 1×/)]]);
    expect(() => validateStudy({ ...spec, primary: [{ ...spikesA, multipliers: [2] }] })).toThrow(/multiplier\(s\) 2 that task tiny-lm's long-horizon runs never use/);
    const { long: _long, ...noLong } = spec;
    expect(() => validateStudy(noLong)).toThrow(/long-horizon runs never use/);
  });
});
