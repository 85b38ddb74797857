/**
 * The published results bundle: `publish` then `report` on the bundle alone gives the same
 * REPORT.md, report.html and figures, byte for byte, as `report` on the study folder; the bundle
 * is smaller than the folder; it restores the run digests the analysis made from the folder;
 * a damaged or unknown-version bundle is refused with one line.
 */
import { cpSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { cli } from './cli.js';
import { BUNDLE_FILE, BUNDLE_RUNS_FILE, loadBundle } from '../../src/study/bundle.js';
import { PRIMARY_FILE } from '../../src/study/bundle_files.js';
import { loadStudy, type LoadedStudy } from '../../src/study/collect.js';
import { RUNS_DIR } from '../../src/study/study.js';
import { METRICS_FILE } from '../../src/train/run_files.js';
import { FIXTURE_TASKS, writeStudyFixture } from '../figures/study_fixture.js';
import { filesUnder, tempDir } from '../train/fixtures.js';

let root: string;
let study: string;
let bundle: string;
/** The study folder's report files, made by `report` on the folder: path relative to the folder → bytes. */
let fromFolder: Map<string, Buffer>;
let loadedFromFolder: LoadedStudy;
/** A stress run whose metrics.jsonl is removed: the analysis has its summary but no records. */
const NO_RECORDS = `stress__${FIXTURE_TASKS[1]}__muon__x2__s1`;

const bytesOf = (files: Map<string, Buffer>) => [...files.values()].reduce((a, b) => a + b.length, 0);

const REPORT_FILES = ['REPORT.md', 'report.html', 'figures'];

beforeAll(async () => {
  await initBackend();
  root = tempDir('bundle');
  study = join(root, 'study');
  bundle = join(root, 'results', 'fixture');
  writeStudyFixture(study, { attention: true });
  rmSync(join(study, RUNS_DIR, NO_RECORDS, METRICS_FILE));
  loadedFromFolder = loadStudy(study);
  expect((await cli(['report', study])).status).toBe(0);
  fromFolder = filesUnder(study, [RUNS_DIR, 'study.json']);
  expect((await cli(['publish', study, '--out', bundle])).status).toBe(0);
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe('publish and report from the bundle', () => {
  it('publish writes the report files byte for byte as `report` on the folder does', () => {
    expect([...fromFolder.keys()]).toContain('REPORT.md');
    expect([...fromFolder.keys()].filter((k) => k.endsWith('.svg')).length).toBeGreaterThan(5);
    const published = filesUnder(bundle, [BUNDLE_FILE, BUNDLE_RUNS_FILE, PRIMARY_FILE]);
    expect([...published.keys()]).toEqual([...fromFolder.keys()]);
    for (const [rel, bytes] of fromFolder) expect(published.get(rel)!.equals(bytes), rel).toBe(true);
  });

  it('`report` regenerates them from the bundle alone, with the study folder gone', async () => {
    const copy = join(root, 'copy');
    cpSync(bundle, copy, { recursive: true });
    for (const f of REPORT_FILES) rmSync(join(copy, f), { recursive: true, force: true });
    const moved = join(root, 'study-away');
    cpSync(study, moved, { recursive: true });
    rmSync(study, { recursive: true });
    try {
      expect((await cli(['report', copy])).status).toBe(0);
    } finally {
      cpSync(moved, study, { recursive: true });
    }
    const regenerated = filesUnder(copy, [BUNDLE_FILE, BUNDLE_RUNS_FILE, PRIMARY_FILE]);
    expect([...regenerated.keys()]).toEqual([...fromFolder.keys()]);
    for (const [rel, bytes] of fromFolder) expect(regenerated.get(rel)!.equals(bytes), rel).toBe(true);
  });

  it('the bundle data is smaller than the run folders it replaces', () => {
    const data = statSync(join(bundle, BUNDLE_FILE)).size + statSync(join(bundle, BUNDLE_RUNS_FILE)).size;
    const runs = bytesOf(filesUnder(join(study, RUNS_DIR)));
    expect(data).toBeLessThan(runs / 4);
  });

  it('restores every summary, and every run digest the analysis made from the folder', () => {
    const fromBundle = loadBundle(bundle);
    expect(fromBundle.spec).toEqual(loadedFromFolder.spec);
    expect(fromBundle.experiments).toEqual(loadedFromFolder.experiments);
    expect([...fromBundle.runs.keys()]).toEqual([...loadedFromFolder.runs.keys()]);
    expect(fromBundle.runs.get(NO_RECORDS)!.digest).toBeUndefined();
    let stress = 0;
    for (const [name, run] of loadedFromFolder.runs) {
      const b = fromBundle.runs.get(name)!;
      expect(b.summary).toEqual(run.summary);
      // Tuning runs' records are not read (and not loaded); every stress run's are.
      expect(b.digest === undefined, name).toBe(run.digest === undefined);
      if (!run.digest) continue;
      stress++;
      expect(b.digest).toEqual(run.digest);
    }
    expect(stress).toBe(FIXTURE_TASKS.length * 3 * 2 * 3 - 1);
  });
});

describe('refusals, one line each', () => {
  const copyOf = (name: string) => {
    const dir = join(root, name);
    cpSync(bundle, dir, { recursive: true });
    return dir;
  };

  it('an unknown bundle version', async () => {
    const dir = copyOf('future');
    const path = join(dir, BUNDLE_FILE);
    writeFileSync(path, readFileSync(path, 'utf8').replace('"version": 2', '"version": 99'));
    const { status, errors } = await cli(['report', dir]);
    expect(status).toBe(2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^error: .*bundle\.json: bundle version 99, this code reads version 2; use a matching checkout$/);
  });

  it('a truncated data file', async () => {
    const dir = copyOf('truncated');
    const path = join(dir, BUNDLE_RUNS_FILE);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length >> 1));
    const { status, errors } = await cli(['report', dir]);
    expect(status).toBe(2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^error: .*runs\.json\.gz: damaged \(.*\); publish the study again$/);
  });

  it('a bundle.json that is not JSON, or not a bundle', async () => {
    const dir = copyOf('garbled');
    writeFileSync(join(dir, BUNDLE_FILE), '{"format": ');
    let r = await cli(['report', dir]);
    expect(r.status).toBe(2);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatch(/bundle\.json: damaged \(.*\); publish the study again$/);
    writeFileSync(join(dir, BUNDLE_FILE), '{"format": "something else", "version": 1}\n');
    r = await cli(['report', dir]);
    expect(r.status).toBe(2);
    expect(r.errors[0]).toMatch(/bundle\.json: not a study bundle/);
  });

  it('publish will not write over a folder that is not a bundle, nor publish a bundle', async () => {
    let r = await cli(['publish', study, '--out', study]);
    expect(r.status).toBe(2);
    r = await cli(['publish', bundle, '--out', join(root, 'again')]);
    expect(r.status).toBe(2);
    expect(r.errors[0]).toMatch(/already a bundle/);
    const other = join(root, 'other');
    cpSync(join(study, 'study.json'), join(other, 'study.json'));
    r = await cli(['publish', study, '--out', other]);
    expect(r.status).toBe(2);
    expect(r.errors[0]).toMatch(/exists and is not a bundle/);
  });
});
