/**
 * A run's checkpoint, `checkpoint.bin`: everything a killed run needs to continue exactly where it
 * left off, in one file written atomically (temp file, fsync, rename), so it is either the previous
 * checkpoint or the new one, never a mixture.
 *
 * Layout: the 8-byte magic `OSCKPT01`, a little-endian uint32 header length, a UTF-8 JSON header,
 * then the tensors' raw little-endian bytes. The header holds the run's identity (config hash,
 * backend), its position (steps done, metrics lines and bytes covered, wall time so far), each
 * tensor's section, name, dtype, shape and byte range, and a SHA-256 of the tensor bytes: a
 * truncated or bit-flipped file is detected and never resumed from.
 *
 * Sections: `variables` (model.variables, named by position: tfjs variable names carry a
 * process-unique prefix, so they differ between the killed process and the resuming one),
 * `optimizer` (its getWeights() slots, `<variable position>/<group>/<slot>`), `model` (state the
 * model keeps outside its variables, e.g. MoE selection biases; see Model.state).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './run_files.js';

export const CHECKPOINT_FILE = 'checkpoint.bin';
const MAGIC = 'OSCKPT01';
export const CHECKPOINT_VERSION = 1;

export type CheckpointSection = 'variables' | 'optimizer' | 'model';

export interface SavedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: 'float32' | 'int32';
  readonly data: Float32Array | Int32Array;
}

/** The training loop's state at a step boundary (what train() captures and restores). */
export interface TrainState {
  /** Steps completed. */
  readonly step: number;
  /** Wall time of the run so far, over every session, seconds. */
  readonly wallSeconds: number;
  /** The optimizer's step counter (bias corrections). */
  readonly optimizerIterations: number;
  readonly variables: readonly SavedTensor[];
  readonly optimizer: readonly SavedTensor[];
  readonly model: readonly SavedTensor[];
}

export interface Checkpoint extends TrainState {
  readonly version: number;
  readonly configHash: string;
  readonly backend: string;
  /** metrics.jsonl lines (and their bytes) this checkpoint covers: a resume truncates back to them. */
  readonly metricsLines: number;
  readonly metricsBytes: number;
}

interface HeaderTensor {
  section: CheckpointSection;
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  offset: number;
  length: number;
}

interface Header extends Omit<Checkpoint, 'variables' | 'optimizer' | 'model'> {
  tensors: HeaderTensor[];
  sha256: string;
}

function encodeCheckpoint(c: Checkpoint): Buffer {
  const tensors: HeaderTensor[] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const section of ['variables', 'optimizer', 'model'] as const) {
    for (const t of c[section]) {
      const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      tensors.push({ section, name: t.name, shape: [...t.shape], dtype: t.dtype, offset, length: bytes.length });
      chunks.push(bytes);
      offset += bytes.length;
    }
  }
  const payload = Buffer.concat(chunks);
  const { variables: _v, optimizer: _o, model: _m, ...meta } = c;
  const header: Header = { ...meta, tensors, sha256: createHash('sha256').update(payload).digest('hex') };
  const headerBytes = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(headerBytes.length);
  return Buffer.concat([Buffer.from(MAGIC), length, headerBytes, payload]);
}

/** Thrown for a file that is not a whole, valid checkpoint; the message says what is wrong. */
export class DamagedCheckpoint extends Error {
  override name = 'DamagedCheckpoint';
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

function decodeCheckpoint(buf: Uint8Array): Checkpoint {
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (bytes.length < 12 || bytes.subarray(0, 8).toString('latin1') !== MAGIC) throw new DamagedCheckpoint('not a checkpoint file (bad magic)');
  const headerLength = bytes.readUInt32LE(8);
  if (12 + headerLength > bytes.length) throw new DamagedCheckpoint('truncated header');
  let header: Header;
  try {
    header = JSON.parse(bytes.subarray(12, 12 + headerLength).toString('utf8')) as Header;
  } catch {
    throw new DamagedCheckpoint('unreadable header');
  }
  if (typeof header !== 'object' || header === null || header.version !== CHECKPOINT_VERSION) throw new DamagedCheckpoint('unknown version');
  for (const k of ['step', 'optimizerIterations', 'metricsLines', 'metricsBytes'] as const) {
    if (!isCount(header[k])) throw new DamagedCheckpoint(`bad ${k}`);
  }
  if (typeof header.wallSeconds !== 'number' || !Number.isFinite(header.wallSeconds)) throw new DamagedCheckpoint('bad wallSeconds');
  if (typeof header.configHash !== 'string' || typeof header.backend !== 'string' || typeof header.sha256 !== 'string') {
    throw new DamagedCheckpoint('bad identity fields');
  }
  if (!Array.isArray(header.tensors)) throw new DamagedCheckpoint('no tensor list');
  const payload = bytes.subarray(12 + headerLength);
  if (createHash('sha256').update(payload).digest('hex') !== header.sha256) throw new DamagedCheckpoint('checksum mismatch (truncated or altered)');
  const sections: Record<CheckpointSection, SavedTensor[]> = { variables: [], optimizer: [], model: [] };
  for (const t of header.tensors) {
    const size = Array.isArray(t?.shape) && t.shape.every(isCount) ? t.shape.reduce((a, b) => a * b, 1) : -1;
    if (
      !(t.section in sections) ||
      typeof t.name !== 'string' ||
      (t.dtype !== 'float32' && t.dtype !== 'int32') ||
      !isCount(t.offset) ||
      t.length !== size * 4 ||
      t.offset + t.length > payload.length
    ) {
      throw new DamagedCheckpoint(`bad tensor entry ${JSON.stringify(t?.name)}`);
    }
    // A copy: typed arrays need 4-byte alignment, which the payload's offsets do not promise.
    const raw = new Uint8Array(payload.subarray(t.offset, t.offset + t.length));
    const data = t.dtype === 'float32' ? new Float32Array(raw.buffer) : new Int32Array(raw.buffer);
    sections[t.section].push({ name: t.name, shape: t.shape, dtype: t.dtype, data });
  }
  const { tensors: _t, sha256: _s, ...meta } = header;
  return { ...meta, ...sections };
}

export function writeCheckpoint(dir: string, c: Checkpoint): void {
  writeFileAtomic(join(dir, CHECKPOINT_FILE), encodeCheckpoint(c), { durable: true });
}

/** The checkpoint in `dir`; throws DamagedCheckpoint when the file exists but is not valid. */
export function readCheckpoint(dir: string): Checkpoint {
  return decodeCheckpoint(readFileSync(join(dir, CHECKPOINT_FILE)));
}
