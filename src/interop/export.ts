/**
 * `sandbox export`: a run's starting point for cross-checks with other frameworks. For one
 * experiment and seed it writes every initial weight as float32 `.npy` (the project's layout:
 * [fan_in, fan_out], y = x·W), the batch order of the first N steps (row indices, or window
 * offsets for text), the data the batches index (features/labels, or the token ids of the train
 * and held-out text), and the resolved config of every optimizer label, described by
 * `manifest.json` (written last, so a manifest means a complete export).
 *
 * Initial weights and batch order depend only on the seed (the run generator's "init" and
 * "batches" forks), not on the optimizer, so one export serves every label of the experiment.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../data/rng.js';
import { loadBrown } from '../data/brown.js';
import { buildDataset, buildModel, buildOptimizer, describeRouting } from '../train/build.js';
import { DEFAULT_EVAL_WINDOWS, type RunConfig } from '../train/config.js';
import { buildTask } from '../train/tasks.js';
import { writeJSONAtomic } from '../train/run_files.js';
import { encodeNpy, type NpyArray } from './npy.js';

const MANIFEST_FILE = 'manifest.json';
const EXPORT_FORMAT = 'optimizer-sandbox export v1';

export interface ExportedWeight {
  /** The variable's name without the process-unique model prefix, e.g. "layer0/attn/wq". */
  readonly name: string;
  readonly file: string;
  readonly shape: readonly number[];
  readonly role: string;
  /** Optimizer group per optimizer label, e.g. {"adamw": "adamw", "muon": "muon"}. */
  readonly groups: Readonly<Record<string, string>>;
}

export interface ExportManifest {
  readonly format: string;
  readonly experiment: string;
  readonly seed: number;
  readonly steps: number;
  readonly backend: string;
  readonly layout: string;
  readonly weights: readonly ExportedWeight[];
  readonly batches: { readonly file: string; readonly shape: readonly number[]; readonly meaning: string };
  readonly data: Readonly<Record<string, unknown>>;
  /** The resolved config of each optimizer label (same seed, steps N). */
  readonly runs: readonly RunConfig[];
}

/** "transformer3/layer0/attn/wq" → "layer0/attn/wq": names that do not depend on how many models a process built. */
export function canonicalName(variableName: string): string {
  return variableName.replace(/^[^/]+\//, '');
}

function save(dir: string, file: string, array: NpyArray): string {
  writeFileSync(join(dir, file), encodeNpy(array));
  return file;
}

/**
 * Write the export of `runs` (one experiment, one seed, one RunConfig per optimizer label) to
 * `dir` (created). Returns the manifest.
 */
export function exportRun(runs: readonly RunConfig[], dir: string, backend: string): ExportManifest {
  const first = runs[0];
  if (!first) throw new Error('exportRun: no runs');
  const rng = new Rng(first.seed);
  const task = buildTask(first, rng.fork('batches'));
  const model = buildModel(first, task, rng.fork('init'));
  mkdirSync(join(dir, 'weights'), { recursive: true });
  mkdirSync(join(dir, 'data'), { recursive: true });
  try {
    const groups = new Map<string, Record<string, string>>();
    for (const run of runs) {
      const optimizer = buildOptimizer(run, model);
      for (const [name, group] of Object.entries(describeRouting(optimizer, model))) {
        groups.set(name, { ...(groups.get(name) ?? {}), [run.label]: group });
      }
      optimizer.dispose();
    }
    const weights: ExportedWeight[] = model.variables.map((v) => {
      const name = canonicalName(v.name);
      const file = save(dir, `weights/${name.replaceAll('/', '.')}.npy`, { dtype: 'float32', shape: v.shape, data: v.dataSync() as Float32Array });
      return { name, file, shape: v.shape, role: model.roles[v.name] ?? 'none', groups: groups.get(v.name) ?? {} };
    });

    const order = Array.from({ length: first.steps }, () => task.nextIndices());
    const width = order[0]?.length ?? 0;
    const flat = new Int32Array(order.length * width);
    order.forEach((b, i) => flat.set(b, i * width));
    const batchFile = save(dir, 'batches.npy', { dtype: 'int32', shape: [order.length, width], data: flat });

    let data: Record<string, unknown>;
    let meaning: string;
    if (first.data.kind === 'brown') {
      if (first.model.kind !== 'transformer') throw new Error('export: text data needs the transformer');
      const corpus = loadBrown();
      const T = first.model.context;
      const evalCount = first.evalSize ?? DEFAULT_EVAL_WINDOWS;
      const evalOffsets = Int32Array.from({ length: evalCount }, (_, j) => j * (T + 1));
      data = {
        kind: 'text',
        vocab: corpus.vocab,
        train_ids: save(dir, 'data/train_ids.npy', { dtype: 'int32', shape: [corpus.train.length], data: Int32Array.from(corpus.train) }),
        heldout_ids: save(dir, 'data/heldout_ids.npy', { dtype: 'int32', shape: [corpus.heldOut.length], data: Int32Array.from(corpus.heldOut) }),
        eval_offsets: save(dir, 'data/eval_offsets.npy', { dtype: 'int32', shape: [evalCount], data: evalOffsets }),
        context: T,
        heldOutDocuments: corpus.heldOutDocuments,
      };
      meaning = `window offsets into data/train_ids.npy: row s holds step s+1's ${width} windows; inputs ids[o : o+${T}], targets ids[o+1 : o+${T + 1}]`;
    } else {
      const ds = buildDataset(first.data);
      const split = (s: typeof ds.train, prefix: string) => ({
        [`${prefix}_x`]: save(dir, `data/${prefix}_x.npy`, { dtype: 'float32', shape: [s.n, ds.inputDim], data: s.x }),
        [`${prefix}_y`]: save(dir, `data/${prefix}_y.npy`, { dtype: 'float32', shape: [s.n, ds.outputDim], data: s.y }),
      });
      data = { kind: ds.kind, name: ds.name, ...split(ds.train, 'train'), ...split(ds.test, 'test'), evalSize: first.evalSize };
      meaning = `row indices into data/train_x.npy and data/train_y.npy: row s holds step s+1's batch of ${width}`;
    }

    const manifest: ExportManifest = {
      format: EXPORT_FORMAT,
      experiment: first.experiment,
      seed: first.seed,
      steps: first.steps,
      backend,
      layout:
        'float32 C-order; weight matrices are [fan_in, fan_out] and a layer computes x·W (torch.nn.Linear stores Wᵀ); ' +
        'expert banks are [experts, fan_in, fan_out]; the forward passes are in docs/language-model.md',
      weights,
      batches: { file: batchFile, shape: [order.length, width], meaning },
      data,
      runs,
    };
    writeJSONAtomic(join(dir, MANIFEST_FILE), manifest);
    return manifest;
  } finally {
    model.dispose();
  }
}

