/**
 * The analysis in its passes: reading a study folder (loadStudy) is the only I/O, and the rest
 * (collectCells, analyzeCells) works from the loaded data alone, without changing it: a deeply
 * frozen copy analyses to the same report as the folder, the cells hold the very runs that were
 * loaded (the figures draw those), and runs absent from the data are counted missing in plan order.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCells, analyzeStudy } from '../../src/study/analyze.js';
import { collectCells } from '../../src/study/cells.js';
import { loadStudy, type LoadedStudy } from '../../src/study/collect.js';
import { planTuning, stressDirName } from '../../src/study/protocol.js';
import { renderReport } from '../../src/study/report.js';
import { tempDir } from '../train/fixtures.js';
import { FIXTURE_MULTIPLIERS, FIXTURE_SEEDS, FIXTURE_TASKS, fixtureExperiments, writeStudyFixture } from '../figures/study_fixture.js';

/** Freezes every object and array reachable from `x` (a Map's values too), so any write throws in strict mode. */
function deepFreeze<T>(x: T): T {
  if (x instanceof Map) {
    for (const v of x.values()) deepFreeze(v);
  } else if (typeof x === 'object' && x !== null && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x)) deepFreeze(v);
  }
  return x;
}

let root: string;
let dir: string;
let loaded: LoadedStudy;
beforeAll(() => {
  root = tempDir('analyze-passes');
  dir = join(root, 'study');
  writeStudyFixture(dir);
  loaded = deepFreeze(loadStudy(dir));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('analysis passes', () => {
  it('analyses frozen loaded data to the same report as the folder, keeping the loaded runs in its cells', () => {
    const r = analyzeCells(collectCells(loaded));
    expect(renderReport(r)).toBe(renderReport(analyzeStudy(dir)));
    expect(r.missing).toEqual([]);
    // Tuning, stress (no arms in this fixture): every run of the plan.
    const stressRuns = FIXTURE_TASKS.length * 2 * FIXTURE_MULTIPLIERS.length * FIXTURE_SEEDS.length;
    expect(r.runsExpected).toBe(planTuning(loaded.spec, fixtureExperiments).length + stressRuns);
    const cell = r.stress.find((c) => c.task === 'tiny-moe' && c.multiplier === 2)!;
    expect(cell.runs['muon']!.map((x) => x.name)).toEqual(FIXTURE_SEEDS.map((s) => stressDirName('tiny-moe', 'muon', 2, s)));
    expect(cell.runs['muon']![0]).toBe(loaded.runs.get(stressDirName('tiny-moe', 'muon', 2, FIXTURE_SEEDS[0]!)));
  });

  it('counts runs absent from the data as missing, in plan order, and analyses the cell from the rest', () => {
    const gone = [stressDirName('tiny-mlp', 'muon', 4, 2), stressDirName('tiny-mlp', 'adamw', 2, 0)];
    const runs = new Map([...loaded.runs].filter(([name]) => !gone.includes(name)));
    const r = analyzeCells(collectCells({ ...loaded, runs }));
    // The plan looks up stress runs multiplier by multiplier, so the 2× run is listed first.
    expect(r.missing).toEqual([gone[1], gone[0]]);
    expect(r.runsFound).toBe(r.runsExpected - 2);
    const at4 = r.stress.find((c) => c.task === 'tiny-mlp' && c.multiplier === 4)!;
    expect(at4.byLabel['muon']!.n).toBe(FIXTURE_SEEDS.length - 1);
    expect(at4.divergence!.nTreatment).toBe(FIXTURE_SEEDS.length - 1);
    expect(at4.divergence!.nBaseline).toBe(FIXTURE_SEEDS.length);
  });
});
