/**
 * The compact data files the playground ships, and their decoding. One container for both: a
 * 4-byte little-endian header length, a JSON header, then byte arrays back to back; the site stores
 * it gzip-compressed.
 *
 * MNIST: the package's 7.84 million pixel values take exactly 256 distinct numbers (multiples of
 * 0.001), so each pixel is one byte, an index into that palette. Decoding gives the same float32
 * values loadMnist builds from the JSON, value for value (a test checks it), which is what keeps
 * browser runs equal to CLI runs. Brown: the token ids the corpus loader caches, as they are.
 */
import type { TextCorpus } from '../data/brown.js';

export const MNIST_ASSET = 'mnist.bin.gz';
export const BROWN_ASSET = 'brown.bin.gz';
const PIXELS = 784;

export function packContainer(header: unknown, arrays: readonly Uint8Array[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const total = 4 + json.length + arrays.reduce((a, b) => a + b.length, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  let at = 4 + json.length;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

function unpackContainer<H>(bytes: Uint8Array): { header: H; body: Uint8Array } {
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n))) as H;
  return { header, body: bytes.subarray(4 + n) };
}

interface MnistHeader {
  readonly palette: number[];
  readonly counts: number[];
}

/** Per-digit pixel arrays (as loadMnist reads them from the package) → the compact container. */
export function packMnist(digits: readonly ArrayLike<number>[]): Uint8Array {
  const values = new Set<number>();
  for (const d of digits) for (let i = 0; i < d.length; i++) values.add(d[i]!);
  if (values.size > 256) throw new Error(`packMnist: ${values.size} distinct pixel values do not fit a byte`);
  const palette = [...values].sort((a, b) => a - b);
  const index = new Map(palette.map((v, i) => [v, i]));
  const arrays = digits.map((d) => Uint8Array.from({ length: d.length }, (_, i) => index.get(d[i]!)!));
  return packContainer({ palette, counts: digits.map((d) => d.length / PIXELS) } satisfies MnistHeader, arrays);
}

export function unpackMnist(bytes: Uint8Array): Float32Array[] {
  const { header, body } = unpackContainer<MnistHeader>(bytes);
  const palette = Float32Array.from(header.palette);
  const digits: Float32Array[] = [];
  let at = 0;
  for (const count of header.counts) {
    const n = count * PIXELS;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = palette[body[at + i]!]!;
    digits.push(out);
    at += n;
  }
  if (at !== body.length) throw new Error('unpackMnist: the data file is damaged (wrong length)');
  return digits;
}

type BrownHeader = Omit<TextCorpus, 'train' | 'heldOut' | 'name'> & { trainLength: number; heldOutLength: number };

export function packBrown(c: TextCorpus): Uint8Array {
  const header: BrownHeader = {
    packageVersion: c.packageVersion,
    vocab: c.vocab,
    documents: c.documents,
    heldOutDocuments: c.heldOutDocuments,
    trainLength: c.train.length,
    heldOutLength: c.heldOut.length,
  };
  return packContainer(header, [c.train, c.heldOut]);
}

export function unpackBrown(bytes: Uint8Array): TextCorpus {
  const { header: h, body } = unpackContainer<BrownHeader>(bytes);
  if (body.length !== h.trainLength + h.heldOutLength) throw new Error('unpackBrown: the data file is damaged (wrong length)');
  return {
    name: 'brown',
    packageVersion: h.packageVersion,
    vocab: h.vocab,
    documents: h.documents,
    heldOutDocuments: h.heldOutDocuments,
    train: body.slice(0, h.trainLength),
    heldOut: body.slice(h.trainLength),
  };
}
