/**
 * The answer first: a synthetic study with a pre-registered primary family reports its verdicts
 * table and forest plot before the protocol; a family with an unmeasured endpoint decides nothing
 * and says why; a v2 study (no family) still reports, labelled as such.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FOREST_ID, forestFigure } from '../../src/figures/forest.js';
import { writeStudyPages } from '../../src/figures/pages.js';
import { renderSvg } from '../../src/figures/render.js';
import { studyFigures } from '../../src/figures/study_figures.js';
import { analyzeStudy } from '../../src/study/analyze.js';
import { validateStudy } from '../../src/study/protocol.js';
import { renderReport } from '../../src/study/report.js';
import { STUDY_FILE, type StudyFile } from '../../src/study/study.js';
import type { PrimaryEndpoint } from '../../src/study/verdict.js';
import { writeStudyFixture } from '../figures/study_fixture.js';
import { tempDir } from '../train/fixtures.js';

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
