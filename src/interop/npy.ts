/**
 * NumPy `.npy` files, format version 1.0 (numpy.lib.format), for float32 and int32 arrays in C
 * order: the magic "\x93NUMPY", version 1.0, a little-endian uint16 header length, an ASCII
 * header dict padded with spaces and ended by '\n' so that the data starts at a multiple of 64
 * bytes, then the raw little-endian data. `np.load` reads what `encodeNpy` writes.
 */
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

export type NpyArray = { readonly dtype: 'float32'; readonly shape: readonly number[]; readonly data: Float32Array } | { readonly dtype: 'int32'; readonly shape: readonly number[]; readonly data: Int32Array };

const DESCR = { float32: '<f4', int32: '<i4' } as const;

function shapeTuple(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

export function encodeNpy(array: NpyArray): Buffer {
  const { dtype, shape, data } = array;
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) throw new RangeError(`npy: shape [${shape.join(', ')}] holds ${size} values, data has ${data.length}`);
  let header = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeTuple(shape)}, }`;
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(prefix, 0);
  prefix[6] = 1; // major version
  prefix[7] = 0; // minor version
  prefix.writeUInt16LE(header.length, 8);
  // Typed arrays are little-endian on every platform Node supports (x86, ARM).
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), body]);
}

export function decodeNpy(bytes: Uint8Array): NpyArray {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new Error('npy: not a .npy file (bad magic)');
  if (buf[6] !== 1) throw new Error(`npy: format version ${buf[6]}.${buf[7]} is not supported (only 1.0)`);
  const headerLength = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLength).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new Error(`npy: malformed header ${JSON.stringify(header)}`);
  if (fortran === 'True') throw new Error('npy: Fortran-order arrays are not supported');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const size = shape.reduce((a, b) => a * b, 1);
  const start = 10 + headerLength;
  const raw = buf.subarray(start);
  if (raw.length !== size * 4) throw new Error(`npy: ${raw.length} data bytes for shape (${shape.join(', ')}) of 4-byte values`);
  // Copy into an aligned buffer (the data may sit at any offset of a pooled Buffer).
  const copy = new Uint8Array(raw).buffer;
  if (descr === '<f4') return { dtype: 'float32', shape, data: new Float32Array(copy) };
  if (descr === '<i4') return { dtype: 'int32', shape, data: new Int32Array(copy) };
  throw new Error(`npy: dtype ${descr} is not supported (only <f4 and <i4)`);
}
