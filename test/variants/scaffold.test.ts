/**
 * new-optimizer writes a variant and its test that pass as generated (the test is run here by a
 * child vitest, as its author would run it), and check-optimizer reports on any variant file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { main } from '../../src/cli/main.js';
import { ScaffoldError, classNameFor, scaffoldOptimizer } from '../../src/variants/scaffold.js';
import { ROOT, sandboxImport, userFolder } from './fixtures.js';

const folders: string[] = [];
let out: string[];
let err: string[];
beforeAll(async () => {
  await initBackend();
});
afterAll(() => {
  for (const f of folders) rmSync(f, { recursive: true, force: true });
});
beforeEach(() => {
  out = [];
  err = [];
  const push = (into: string[]) => (...args: unknown[]) => void into.push(...args.map(String).join(' ').split('\n'));
  vi.spyOn(console, 'log').mockImplementation(push(out));
  vi.spyOn(console, 'error').mockImplementation(push(err));
  vi.spyOn(console, 'warn').mockImplementation(() => {});
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

/** A bare folder (no package.json), as a user's new folder would be. */
function bareFolder(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `opt-sandbox-${label}-`));
  folders.push(dir);
  return dir;
}

describe('new-optimizer', () => {
  it('generates, from muon, adamw and sgd, variant + test pairs whose tests pass as generated', () => {
    const dir = bareFolder('scaffold');
    const made = (['muon', 'adamw', 'sgd'] as const).map((from) => scaffoldOptimizer({ name: `gen-${from}`, from, dir }));
    // The folder had no package.json: one saying "type": "module" was written so the .ts files load as ES modules.
    expect(made[0]!.packageJson).toBe(join(dir, 'package.json'));
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))).toEqual({ type: 'module' });
    expect(made[1]!.packageJson).toBeUndefined();
    for (const m of made) {
      const source = readFileSync(m.variantFile, 'utf8');
      expect(source).toContain(`className: '${m.className}'`);
      expect(source).toContain(`from '${sandboxImport(dir)}'`);
      expect(source).toMatch(/plan: \(o\) =>/);
      const name = m.variantFile.match(/gen-\w+/)![0];
      expect(m.next[0]).toMatch(new RegExp(`^npm run sandbox -- check-optimizer ${name} --require \\S*${name}\\.ts$`));
    }
    // Run the generated tests the way their author would: a vitest rooted at the folder (in one
    // process, to keep this test's cost to one tfjs start-up).
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')));
    const res = spawnSync(join(ROOT, 'node_modules', '.bin', 'vitest'), ['run', '--root', dir, '--maxWorkers', '1', '--no-isolate'], { cwd: ROOT, env, encoding: 'utf8' });
    const report = `${res.stdout}\n${res.stderr}`;
    expect(res.status, report).toBe(0);
    expect(report).toMatch(/Test Files .*3 passed/);
    expect(report).toMatch(/Tests .*3 passed/);
  });

  it('refuses bad requests in one line, writing nothing', () => {
    const dir = bareFolder('scaffold-refuse');
    writeFileSync(join(dir, 'taken.ts'), '// exists\n');
    const refusals: [Parameters<typeof scaffoldOptimizer>[0], RegExp][] = [
      [{ name: 'My Muon', dir }, /optimizer name "My Muon": use lower-case letters/],
      [{ name: 'adamw', dir }, /an optimizer named "adamw" is already registered/],
      // tfjs ships an Adamax class: the generated class name would replace it.
      [{ name: 'adamax', dir }, /class name "Adamax" .* already registered with tfjs/],
      [{ name: 'fine', from: 'lion', dir }, /--from "lion": expected one of muon, adamw, sgd/],
      [{ name: 'taken', dir }, /taken\.ts already exists/],
    ];
    for (const [req, message] of refusals) {
      expect(() => scaffoldOptimizer(req)).toThrow(ScaffoldError);
      expect(() => scaffoldOptimizer(req)).toThrow(message);
    }
    expect(readdirSync(dir)).toEqual(['taken.ts']);
    expect(classNameFor('my-muon_v2')).toBe('MyMuonV2');
  });

  it('the CLI prints the files and the commands to run next', async () => {
    const dir = bareFolder('scaffold-cli');
    expect(await main(['new-optimizer', 'cli-sgd', '--from', 'sgd', '--dir', dir])).toBe(0);
    const text = out.join('\n');
    expect(text).toContain(`written: ${join(dir, 'cli-sgd.ts')}`);
    expect(text).toContain(`written: ${join(dir, 'cli-sgd.test.ts')}`);
    expect(text).toContain('npm run sandbox -- check-optimizer cli-sgd --require');
    expect(text).toContain('npx vitest run --root');
    expect(await main(['new-optimizer', 'cli-sgd', '--dir', dir])).toBe(2);
    expect(err.filter((l) => l.trim())).toEqual([expect.stringMatching(/^error: .*cli-sgd\.ts already exists$/)]);
  });
});

describe('check-optimizer', () => {
  it('passes a sound variant file (exit 0) and fails a leaky one (exit 1), naming the check', async () => {
    const dir = userFolder('check-cli');
    folders.push(dir);
    const sound = scaffoldOptimizer({ name: 'checked-adamw', from: 'adamw', dir }).variantFile;
    expect(await main(['check-optimizer', 'checked-adamw', '--require', sound, '--backend', 'wasm']), err.join('\n')).toBe(0);
    expect(out.join('\n')).toMatch(/\| trains +\| .* \| pass \(\d+ ms\) \|/);
    expect(out.join('\n')).toContain('checked-adamw: all checks passed');

    const leaky = join(dir, 'leaky.ts');
    writeFileSync(
      leaky,
      `import { defineOptimizer, learningRate, tf } from '${sandboxImport(dir)}';
const kept: unknown[] = [];
export const Leaky = defineOptimizer({
  name: 'leaky-cli', className: 'LeakyCli', description: 'keeps every update',
  options: { learningRate: learningRate(1e-2, 'test') },
  plan: (o) => ({ groups: { main: { learningRate: o.learningRate, transform: {
    name: 'hoard', slots: () => ({}), update: (u) => { kept.push(tf.keep(tf.clone(u))); return u; } } } } }),
});
`,
    );
    out.length = 0;
    expect(await main(['check-optimizer', 'leaky-cli', '--require', leaky, '--backend', 'wasm'])).toBe(1);
    expect(out.join('\n')).toMatch(/FAIL wasm no-tensor-growth: 300 more tensors/);
    expect(out.join('\n')).toContain('leaky-cli: 1 check failed');
  });

  it('an unknown optimizer or bad --options is a one-line error (exit 2)', async () => {
    expect(await main(['check-optimizer', 'no-such-variant'])).toBe(2);
    expect(await main(['check-optimizer', 'sgd', '--options', '{"momentum": 2}'])).toBe(2);
    expect(await main(['check-optimizer', 'sgd', '--options', 'not json'])).toBe(2);
    const lines = err.filter((l) => l.trim());
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^error: unknown optimizer "no-such-variant"; known optimizers: /);
    expect(lines[1]).toMatch(/^error: TorchSGD: option "momentum" = 2 is out of range/);
    expect(lines[2]).toMatch(/^error: --options "not json": not JSON/);
    expect(existsSync(join(ROOT, 'optimizers', 'no-such-variant.ts'))).toBe(false);
  });
});
