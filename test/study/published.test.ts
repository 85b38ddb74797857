/**
 * The results bundles committed under results/: `npm run report -- results/NAME` regenerates every
 * file of each from its data alone, byte for byte (REPORT.md, report.html, the figures,
 * primary.json), and `verify-bundle` re-derives its verdicts independently and agrees.
 */
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { isBundle } from '../../src/study/bundle.js';
import { filesUnder, tempDir } from '../train/fixtures.js';
import { cli } from './cli.js';

const RESULTS = join(import.meta.dirname, '..', '..', 'results');
/** The study whose bundle the README's findings quote: it must be among them. */
const QUOTED = 'stability-v3';

const published = readdirSync(RESULTS)
  .map((name) => join(RESULTS, name))
  .filter((dir) => statSync(dir).isDirectory() && isBundle(dir))
  .sort();

let root: string;
beforeAll(async () => {
  await initBackend();
  root = tempDir('published-');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

it(`results/ holds the bundle the README quotes (${QUOTED})`, () => {
  expect(published.map((d) => relative(RESULTS, d))).toContain(QUOTED);
});

describe.each(published.map((dir) => [relative(RESULTS, dir), dir] as const))('results/%s', (_name, dir) => {
  it('report regenerates every file byte for byte from the bundle alone', async () => {
    const copy = join(root, relative(RESULTS, dir));
    cpSync(dir, copy, { recursive: true });
    const committed = filesUnder(dir);
    const r = await cli(['report', copy]);
    expect(r.status).toBe(0);
    const regenerated = filesUnder(copy);
    expect([...regenerated.keys()]).toEqual([...committed.keys()]);
    for (const [path, bytes] of committed) expect(regenerated.get(path)!.equals(bytes), path).toBe(true);
  }, 600_000);

  it('verify-bundle re-derives its primary verdicts and agrees', async () => {
    const r = await cli(['verify-bundle', dir]);
    expect(r.status, r.out.slice(-800)).toBe(0);
  }, 600_000);
});
