/**
 * `npm run playground:build`: the static site in playground-dist/ (git-ignored). First the data
 * files (MNIST as palette bytes, the Brown Corpus as token ids, both gzip-compressed) and tfjs's
 * .wasm binaries go to playground-dist-assets/, which Vite copies as they are; then Vite bundles
 * the page and the worker. `--serve` (used by `npm run playground`) then serves the site and
 * prints its URL. Prints the first-load weight: what a visitor downloads before pressing Run.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, preview } from 'vite';
import { loadBrown } from '../data/brown.js';
import { MNIST_CLASSES, MNIST_INPUT_DIM, mnistPackageRoot } from '../data/mnist.js';
import { BROWN_ASSET, MNIST_ASSET, packBrown, packMnist } from './data_pack.js';

const root = resolve(import.meta.dirname, '..', '..');
const config = join(root, 'playground', 'vite.config.ts');
const assets = join(root, 'playground-dist-assets');
/** Where playground/vite.config.ts writes the site. */
const out = join(root, 'playground-dist');

/** The package's per-digit pixel arrays, read as loadMnist reads them. */
function mnistDigits(): number[][] {
  const dir = join(mnistPackageRoot(), 'src', 'digits');
  return Array.from({ length: MNIST_CLASSES }, (_, d) => {
    const data = (JSON.parse(readFileSync(join(dir, `${d}.json`), 'utf8')) as { data: number[] }).data;
    if (data.length % MNIST_INPUT_DIM !== 0) throw new Error(`${dir}/${d}.json does not hold 784-value images`);
    return data;
  });
}

export function writeAssets(dir: string): void {
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(dir, 'wasm'), { recursive: true });
  writeFileSync(join(dir, 'data', MNIST_ASSET), gzipSync(packMnist(mnistDigits()), { level: 9 }));
  writeFileSync(join(dir, 'data', BROWN_ASSET), gzipSync(packBrown(loadBrown()), { level: 9 }));
  const wasmDir = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')), '..');
  const dist = existsDir(join(wasmDir, 'dist')) ? join(wasmDir, 'dist') : wasmDir;
  for (const f of readdirSync(dist).filter((n) => n.endsWith('.wasm'))) copyFileSync(join(dist, f), join(dir, 'wasm', f));
}

function existsDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function sizeOf(dir: string, keep: (path: string) => boolean): number {
  let total = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const p = join(entry.parentPath, entry.name);
    if (entry.isFile() && keep(p)) total += statSync(p).size;
  }
  return total;
}

const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;

export async function buildSite(): Promise<string> {
  writeAssets(assets);
  await build({ configFile: config });
  // First load: the HTML, CSS, scripts and the one .wasm binary a browser without threads fetches (SIMD).
  const first = sizeOf(out, (p) => !p.includes(`${join(out, 'data')}`) && (!p.endsWith('.wasm') || p.endsWith('tfjs-backend-wasm-simd.wasm')));
  const firstGz = readdirSync(out, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(js|css|html)$/.test(e.name))
    .reduce((a, e) => a + gzipSync(readFileSync(join(e.parentPath, e.name))).length, 0);
  console.log(`playground site → ${out}`);
  console.log(`first load: ${kb(first)} (scripts, styles and HTML ${kb(firstGz)} gzip-compressed, plus the wasm binary)`);
  console.log(`data, fetched when an experiment needs it: MNIST ${kb(statSync(join(out, 'data', MNIST_ASSET)).size)}, Brown ${kb(statSync(join(out, 'data', BROWN_ASSET)).size)}`);
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  await buildSite();
  if (process.argv.includes('--serve')) {
    const server = await preview({ configFile: config });
    const url = server.resolvedUrls?.local[0] ?? 'http://127.0.0.1:4173/';
    console.log(`playground: ${url}  (Ctrl-C stops it)`);
  }
}
