/**
 * Interop export: the .npy writer/reader, and that an export round-trips —
 * reading its files back gives the weights and batches the run itself uses (the first step's
 * loss recomputed from the files equals the run's), for the text task and a vector task.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend.js';
import { decodeNpy, encodeNpy } from '../../src/interop/npy.js';
import { canonicalName, exportRun, type ExportManifest } from '../../src/interop/export.js';
import { expandRuns } from '../../src/train/config.js';
import { buildModel } from '../../src/train/build.js';
import { buildTask, taskLoss } from '../../src/train/tasks.js';
import { train, type StepRecord } from '../../src/train/loop.js';
import { Rng } from '../../src/data/rng.js';
import { tf } from '../../src/tf.js';
import { tempDir, tinyLm, tinyMoe } from '../train/fixtures.js';

beforeAll(async () => {
  await initBackend();
});

describe('npy', () => {
  it('writes numpy format 1.0 with a 64-byte aligned header and reads it back', () => {
    const bytes = encodeNpy({ dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6.5]) });
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]));
    const headerLength = bytes.readUInt16LE(8);
    expect((10 + headerLength) % 64).toBe(0);
    const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
    expect(header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")).toBe(true);
    expect(header.endsWith('\n')).toBe(true);
    expect(bytes.length).toBe(10 + headerLength + 24);
    const back = decodeNpy(bytes);
    expect(back.dtype).toBe('float32');
    expect(back.shape).toEqual([2, 3]);
    expect(Array.from(back.data)).toEqual([1, 2, 3, 4, 5, -6.5]);
  });

  it('handles int32, 1-D shapes (the trailing comma) and rejects what it cannot read', () => {
    const bytes = encodeNpy({ dtype: 'int32', shape: [4], data: Int32Array.from([7, -1, 0, 2 ** 31 - 1]) });
    expect(bytes.toString('latin1')).toContain("'shape': (4,)");
    const back = decodeNpy(bytes);
    expect(back.dtype).toBe('int32');
    expect(Array.from(back.data)).toEqual([7, -1, 0, 2 ** 31 - 1]);
    expect(() => encodeNpy({ dtype: 'int32', shape: [3], data: new Int32Array(4) })).toThrow(/holds 3 values/);
    expect(() => decodeNpy(Buffer.from('not numpy at all'))).toThrow(/bad magic/);
    const f8 = Buffer.from(bytes);
    f8.write("'<f8'", bytes.toString('latin1').indexOf("'<i4'"), 'latin1');
    expect(() => decodeNpy(f8)).toThrow(/not supported/);
  });
});

const read = (dir: string, file: string) => decodeNpy(readFileSync(join(dir, file)));

describe('sandbox export', () => {
  it('text: the exported weights and windows reproduce the run\'s first-step loss, and the batch order is the run\'s', async () => {
    const runs = expandRuns(tinyLm, { seeds: [3], steps: 5 });
    const dir = join(tempDir('export-lm'), 'out');
    const manifest = exportRun(runs, dir, tf.getBackend());
    const onDisk = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ExportManifest;
    expect(onDisk.weights.map((w) => w.name)).toEqual(manifest.weights.map((w) => w.name));
    expect(onDisk.runs.map((r) => r.label)).toEqual(['adamw', 'muon']);
    const wq = onDisk.weights.find((w) => w.name === 'layer0/attn/wq')!;
    expect(wq).toMatchObject({ shape: [16, 16], role: 'hidden', groups: { adamw: 'adamw', muon: 'muon' } });
    expect(onDisk.weights.find((w) => w.name === 'E')!.groups).toEqual({ adamw: 'adamw', muon: 'adamw' });

    // The batch order is what the run's own generator draws.
    const batches = read(dir, onDisk.batches.file);
    expect(batches.shape).toEqual([5, 4]);
    const task = buildTask(runs[0]!, new Rng(3).fork('batches'));
    for (let s = 0; s < 5; s++) expect(Array.from(batches.data.subarray(s * 4, (s + 1) * 4))).toEqual(Array.from(task.nextIndices()));

    // A fresh model loaded from the files computes the run's first-step loss on the first exported batch.
    const recs: StepRecord[] = [];
    await train({ ...runs[0]!, steps: 1 }, { onRecord: (r) => recs.push(r) });
    const model = buildModel(runs[0]!, { inputDim: 85, outputDim: 85 }, new Rng(99)); // other init, overwritten below
    try {
      for (const v of model.variables as tf.Variable[]) {
        const w = onDisk.weights.find((x) => x.name === canonicalName(v.name))!;
        const arr = read(dir, w.file);
        expect(arr.shape).toEqual(v.shape);
        v.assign(tf.tensor(arr.data as Float32Array, v.shape));
      }
      const ids = read(dir, onDisk.data['train_ids'] as string).data;
      const T = 16;
      const inputs = new Int32Array(4 * T);
      const targets = new Int32Array(4 * T);
      for (let b = 0; b < 4; b++) {
        for (let t = 0; t < T; t++) {
          inputs[b * T + t] = ids[batches.data[b]! + t]!;
          targets[b * T + t] = ids[batches.data[b]! + t + 1]!;
        }
      }
      const loss = tf.tidy(() => {
        const x = tf.tensor2d(inputs, [4, T], 'int32');
        const y = tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), 85), 'float32');
        return taskLoss('language', y, model.forward(x).output).dataSync()[0]!;
      });
      expect(loss).toBeCloseTo(recs[0]!.loss, 5);
    } finally {
      model.dispose();
    }
    expect(read(dir, onDisk.data['eval_offsets'] as string).data.slice(0, 3)).toEqual(Int32Array.from([0, 17, 34]));
  });

  it('vectors: rows indices and features/labels, with weights equal to the run\'s initial model', async () => {
    const runs = expandRuns(tinyMoe, { seeds: [1], steps: 3 });
    const dir = join(tempDir('export-moe'), 'out');
    const manifest = exportRun(runs, dir, tf.getBackend());
    const batches = read(dir, manifest.batches.file);
    expect(batches.shape).toEqual([3, 32]);
    const task = buildTask(runs[0]!, new Rng(1).fork('batches'));
    for (let s = 0; s < 3; s++) expect(Array.from(batches.data.subarray(s * 32, (s + 1) * 32))).toEqual(Array.from(task.nextIndices()));
    const x = read(dir, manifest.data['train_x'] as string);
    expect(x.shape[1]).toBe(16);
    const model = buildModel(runs[0]!, task, new Rng(1).fork('init'));
    try {
      for (const v of model.variables) {
        const w = manifest.weights.find((m) => m.name === canonicalName(v.name))!;
        expect(Array.from(read(dir, w.file).data)).toEqual(Array.from(v.dataSync()));
      }
    } finally {
      model.dispose();
    }
  });
});
