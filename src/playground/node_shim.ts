/**
 * Stands in for Node's built-in modules (node:fs, node:path, ...) in the playground's browser
 * bundle; the Vite config maps every `node:*` import here. The shared modules the worker imports
 * also hold file code (run folders, caches, locks) that the browser never calls; that code only
 * needs its imports to resolve. A call into it throws, naming the function, rather than failing
 * somewhere later. Two pieces are real because the browser does use them: `createHash('sha256')`
 * (config hashes must equal the CLI's) and the path helpers (pure string work).
 */
import { sha256Hex } from './sha256.js';

const unavailable =
  (name: string) =>
  (..._args: unknown[]): never => {
    throw new Error(`${name} is not available in the browser`);
  };

export const accessSync = unavailable('fs.accessSync');
export const closeSync = unavailable('fs.closeSync');
export const cpSync = unavailable('fs.cpSync');
export const existsSync = (): boolean => false;
export const fsyncSync = unavailable('fs.fsyncSync');
export const mkdirSync = unavailable('fs.mkdirSync');
export const mkdtempSync = unavailable('fs.mkdtempSync');
export const openSync = unavailable('fs.openSync');
export const readFileSync = unavailable('fs.readFileSync');
export const readdirSync = unavailable('fs.readdirSync');
export const renameSync = unavailable('fs.renameSync');
export const rmSync = unavailable('fs.rmSync');
export const statSync = unavailable('fs.statSync');
export const statfsSync = unavailable('fs.statfsSync');
export const writeFileSync = unavailable('fs.writeFileSync');
export const writeSync = unavailable('fs.writeSync');
export const truncateSync = unavailable('fs.truncateSync');
export const constants = { W_OK: 2, R_OK: 4 };
export const execFileSync = unavailable('child_process.execFileSync');
// A results bundle is compressed in Node (study/bundle.ts); the page decompresses it with DecompressionStream.
export const gzipSync = unavailable('zlib.gzipSync');
export const gunzipSync = unavailable('zlib.gunzipSync');
export const randomBytes = unavailable('crypto.randomBytes');
export const hostname = (): string => 'browser';
export const tmpdir = (): string => '/tmp';
export const cpus = (): unknown[] => [];
export const Worker = unavailable('worker_threads.Worker');
export const parentPort = null;
export const workerData = undefined;

export function join(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/').replace(/\/+/g, '/');
}
export const resolve = join;
export function dirname(p: string): string {
  const i = p.replace(/\/+$/, '').lastIndexOf('/');
  return i <= 0 ? (i === 0 ? '/' : '.') : p.slice(0, i);
}
export function basename(p: string): string {
  return p.replace(/\/+$/, '').split('/').pop() ?? '';
}
export function extname(p: string): string {
  const b = basename(p);
  const i = b.lastIndexOf('.');
  return i <= 0 ? '' : b.slice(i);
}
export function relative(_from: string, to: string): string {
  return to;
}
export function fileURLToPath(url: string | URL): string {
  return new URL(String(url)).pathname;
}
export function pathToFileURL(path: string): URL {
  return new URL(`file://${path}`);
}
export function createRequire(_from: string): { resolve(id: string): never } {
  return { resolve: unavailable('require.resolve') };
}

/** Only what the shared code calls: createHash('sha256').update(text).digest('hex'). */
export function createHash(algorithm: string): { update(text: string): { digest(encoding: 'hex'): string } } {
  if (algorithm !== 'sha256') throw new Error(`createHash("${algorithm}") is not available in the browser`);
  return { update: (text: string) => ({ digest: () => sha256Hex(text) }) };
}

const fs = { accessSync, constants, truncateSync, closeSync, cpSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, statfsSync, writeFileSync, writeSync };
export default fs;
