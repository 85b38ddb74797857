/** Variant files written the way a user would, in folders outside src/, for the variant tests. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');

/** The import path of the sandbox's public API from a file in `dir` (a user's relative import). */
export function sandboxImport(dir: string): string {
  const rel = relative(dir, join(ROOT, 'src', 'index.js')).split('\\').join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/**
 * A folder of the user's own, outside the project, marked as ES modules as docs/optimizers.md says
 * (otherwise its .ts files would load as CommonJS, with a second copy of the sandbox).
 */
export function userFolder(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `opt-sandbox-${label}-`));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  return dir;
}

/**
 * A user's Lion (sign of interpolated momentum), written from scratch with one transform and
 * `defineOptimizer`, as in the issue that found the worker bug; `name` keeps it apart from the
 * shipped `lion`.
 */
export function writeUserLion(dir: string, name: string, className: string): string {
  const path = join(dir, `${name}.ts`);
  writeFileSync(
    path,
    `import { defineOptimizer, learningRate, beta, tf, type transforms } from '${sandboxImport(dir)}';

const signMomentum = (b1: number, b2: number): transforms.GradientTransformation => ({
  name: 'signMomentum',
  slots: (p) => ({ m: p.shape }),
  update(g, ctx) {
    const slot = ctx.slot('m');
    const m = slot.read();
    const out = tf.sign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
    slot.write(tf.add(tf.mul(m, b2), tf.mul(g, 1 - b2)));
    return out;
  },
});

export const ${className} = defineOptimizer({
  name: '${name}',
  className: '${className}',
  description: 'a user Lion',
  options: { learningRate: learningRate(1e-3, 'test'), beta1: beta(0.9, 'b1', 'test'), beta2: beta(0.99, 'b2', 'test') },
  plan: (o) => ({ groups: { main: { learningRate: o.learningRate, transform: signMomentum(o.beta1, o.beta2) } } }),
});
`,
  );
  return path;
}

/** An experiment file in `dir` that imports a variant file and compares it with AdamW. */
export function writeExperiment(dir: string, name: string, variantFile: string, variantName: string): string {
  const path = join(dir, `${name}.ts`);
  writeFileSync(
    path,
    `import { defineExperiment } from '${relative(dir, join(ROOT, 'src', 'train', 'config.js')).split('\\').join('/')}';
import './${relative(dir, variantFile).replace(/\.ts$/, '.js')}';

export default defineExperiment({
  name: '${name}',
  description: 'a user variant next to AdamW',
  data: { kind: 'mnist', limitPerClass: 20 },
  model: { kind: 'mlp', hidden: [16], activation: 'relu' },
  steps: 8,
  batchSize: 32,
  evalEvery: 4,
  schedule: { kind: 'constant' },
  optimizers: {
    adamw: { name: 'adamw', options: { learningRate: 1e-2 } },
    mine: { name: '${variantName}', options: { learningRate: 1e-3 } },
  },
  seeds: [0],
});
`,
  );
  return path;
}
