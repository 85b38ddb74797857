/**
 * The layout rules, checked on the source itself: `src/cli/` is the top and nothing outside it
 * imports from it; no import circles between files; no circle between rooms (a room is the first
 * folder under src/); no module over MAX_LINES lines unless its header states why (a line starting
 * `Size:`). Imports are read with TypeScript's own pre-processor, so static `import … from`,
 * `export … from`, side-effect `import '…'` and dynamic `import('…')` all count, type-only ones
 * too (a type-only circle is still a circle for a reader), and text in comments does not.
 */
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const MAX_LINES = 400;

/** One source file: its path relative to the repository (always with '/') and its text. */
interface SourceFile {
  readonly path: string;
  readonly text: string;
}

/** The relative imports of a file, resolved to repository paths ('./x.js' → 'src/…/x.ts'). */
function relativeImports(file: SourceFile, exists: (path: string) => boolean): string[] {
  const info = ts.preProcessFile(file.text, true, true);
  const out: string[] = [];
  for (const { fileName } of info.importedFiles) {
    if (!fileName.startsWith('./') && !fileName.startsWith('../')) continue;
    const base = join(dirname(file.path), fileName).split(sep).join('/');
    // NodeNext imports name the emitted .js; the source is the .ts beside it.
    const candidates = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, `${base}/index.ts`];
    const hit = candidates.find(exists);
    if (hit !== undefined) out.push(hit);
  }
  return [...new Set(out)];
}

/** The room of a file under src/: its first folder, or undefined for a file directly in src/. */
function roomOf(path: string): string | undefined {
  const parts = path.split('/');
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : undefined;
}

/** One circle in a directed graph as a path that ends where it starts, or undefined when there is none. */
function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const s = state.get(next);
      if (s === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (s === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of [...graph.keys()].sort()) {
    if (state.has(node)) continue;
    const found = visit(node);
    if (found) return found;
  }
  return undefined;
}

/** True when the header comment (the comments before the first statement) has a `Size:` line with a reason. */
function statesSizeReason(text: string): boolean {
  const header = /^(?:\s*(?:\/\/[^\n]*|\/\*[\s\S]*?\*\/))*/.exec(text)?.[0] ?? '';
  return /^\s*(?:\*|\/\/)?\s*Size:\s*\S/m.test(header);
}

/**
 * Every layout violation of a set of files, one line each: 'cli-import: A → B', 'cycle: A → B → A',
 * 'room-cycle: x → y → x', 'size: A'. Files directly in src/ stay out of the room graph: index.ts
 * is the public facade, which re-exports from every room by design, and the others (tf, backend,
 * ops, errors) are the base every room stands on; with the facade in, every room would sit both
 * above and below src/.
 */
function layoutViolations(files: readonly SourceFile[]): string[] {
  const paths = new Set(files.map((f) => f.path));
  const graph = new Map<string, string[]>();
  for (const f of files) graph.set(f.path, relativeImports(f, (p) => paths.has(p)));
  const out: string[] = [];
  for (const [from, tos] of graph) {
    if (from.startsWith('src/cli/')) continue;
    for (const to of tos) if (to.startsWith('src/cli/')) out.push(`cli-import: ${from} → ${to}`);
  }
  const cycle = findCycle(graph);
  if (cycle) out.push(`cycle: ${cycle.join(' → ')}`);
  const rooms = new Map<string, Set<string>>();
  for (const [from, tos] of graph) {
    const a = roomOf(from);
    if (a === undefined) continue;
    if (!rooms.has(a)) rooms.set(a, new Set());
    for (const to of tos) {
      const b = roomOf(to);
      if (b !== undefined && b !== a) rooms.get(a)!.add(b);
    }
  }
  const roomCycle = findCycle(new Map([...rooms].map(([k, v]) => [k, [...v].sort()])));
  if (roomCycle) out.push(`room-cycle: ${roomCycle.join(' → ')}`);
  for (const f of files) {
    const lines = f.text.split('\n').length - (f.text.endsWith('\n') ? 1 : 0);
    if (lines > MAX_LINES && !statesSizeReason(f.text)) out.push(`size: ${f.path}`);
  }
  return out;
}

function sourceFiles(dir: string): SourceFile[] {
  const out: SourceFile[] = [];
  for (const name of readdirSync(join(ROOT, dir)).sort()) {
    const path = `${dir}/${name}`;
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts')) out.push({ path, text: readFileSync(join(ROOT, path), 'utf8') });
  }
  return out;
}

const file = (path: string, ...imports: string[]): SourceFile => ({
  path,
  text: `/** ${path} */\n${imports.map((i, n) => `import { x${n} } from '${i}';`).join('\n')}\n`,
});

describe('the layout checker', () => {
  it('reads static, re-export, side-effect, type-only and dynamic imports, not ones in comments or of packages', () => {
    const f: SourceFile = {
      path: 'src/a/one.ts',
      text: [
        "import { b } from './two.js';",
        "import type { C } from '../c/three.js';",
        "export { d } from '../d/index.js';",
        "import '../e/four.js';",
        "const later = () => import('../f/five.js');",
        "// import { g } from '../g/six.js';",
        '/* import("../h/seven.js") */',
        "import { tf } from '@tensorflow/tfjs';",
        "import {\n  y,\n  z,\n} from './eight.js';",
      ].join('\n'),
    };
    const exists = (p: string) => !p.endsWith('.js') && !p.includes('/g/') && !p.includes('/h/') && p !== 'src/d/index.js.ts';
    expect(relativeImports(f, exists)).toEqual(['src/a/two.ts', 'src/c/three.ts', 'src/d/index.ts', 'src/e/four.ts', 'src/f/five.ts', 'src/a/eight.ts']);
  });

  it('finds a file circle and names its path', () => {
    const v = layoutViolations([file('src/a/x.ts', './y.js'), file('src/a/y.ts', './z.js'), file('src/a/z.ts', './x.js')]);
    expect(v).toEqual(['cycle: src/a/x.ts → src/a/y.ts → src/a/z.ts → src/a/x.ts']);
  });

  it('finds a room circle made of files that form no file circle', () => {
    const v = layoutViolations([file('src/a/x.ts', '../b/y.js'), file('src/b/y.ts'), file('src/b/z.ts', '../a/w.js'), file('src/a/w.ts')]);
    expect(v).toEqual(['room-cycle: a → b → a']);
  });

  it('leaves files directly in src/ out of the room graph', () => {
    const v = layoutViolations([file('src/index.ts', './a/x.js'), file('src/tf.ts'), file('src/a/x.ts', '../tf.js')]);
    expect(v).toEqual([]);
  });

  it('refuses an import of src/cli/ from outside it, and allows one inside it', () => {
    const v = layoutViolations([file('src/cli/main.ts', './args.js', '../a/x.js'), file('src/cli/args.ts'), file('src/a/x.ts', '../cli/args.js')]);
    expect(v).toContain('cli-import: src/a/x.ts → src/cli/args.ts');
    expect(v.filter((l) => l.startsWith('cli-import'))).toHaveLength(1);
  });

  it(`refuses a module over ${MAX_LINES} lines unless its header states a reason`, () => {
    const body = Array.from({ length: MAX_LINES }, (_, i) => `export const v${i} = ${i};`).join('\n');
    const withReason = `/**\n * Something.\n * Size: one table of cases that reads best whole.\n */\n${body}\n`;
    const reasonInBody = `/** Something. */\n${body}\n// Size: too late, not in the header\n`;
    expect(layoutViolations([{ path: 'src/a/big.ts', text: `/** Something. */\n${body}\n` }])).toEqual(['size: src/a/big.ts']);
    expect(layoutViolations([{ path: 'src/a/big.ts', text: withReason }])).toEqual([]);
    expect(layoutViolations([{ path: 'src/a/big.ts', text: reasonInBody }])).toEqual(['size: src/a/big.ts']);
    expect(layoutViolations([{ path: 'src/a/small.ts', text: `/** Small. */\n${body.split('\n').slice(1).join('\n')}\n` }])).toEqual([]);
  });
});

describe('the layout of src/', () => {
  const files = sourceFiles('src');

  it('reads every module under src/ and its imports', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(relativeImports(files.find((f) => f.path === 'src/train/run.ts')!, (p) => existsSync(join(ROOT, p)))).toContain('src/train/loop.ts');
  });

  it('has no upward import of src/cli/, no circle of files or rooms, and no long module without a stated reason', () => {
    const violations = layoutViolations(files);
    expect(violations).toEqual([]);
  });
});
