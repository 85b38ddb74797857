/**
 * The one renderer: a Vega-Lite spec → Vega → SVG text, headless in Node (vega's View with the
 * 'none' renderer builds the scenegraph without a canvas or DOM; toSVG serialises it).
 */
import { parse, View, type Spec as VegaSpec } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { HOVER_PREFIX } from './specs.js';
import { figureConfig, type Theme } from './theme.js';

export interface Rendered {
  readonly svg: string;
  /** Warnings from Vega-Lite's compiler and Vega's dataflow; a correct figure has none. */
  readonly warnings: string[];
}

/** A logger that keeps warnings and errors instead of printing them. */
function collectingLogger(sink: string[]) {
  let level = 2;
  const logger = {
    level(l?: number) {
      if (l === undefined) return level as never;
      level = l;
      return logger as never;
    },
    warn(...a: readonly unknown[]) {
      sink.push(a.map(String).join(' '));
      return logger;
    },
    error(...a: readonly unknown[]) {
      sink.push(`error: ${a.map(String).join(' ')}`);
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  return logger;
}

export function compileFigure(spec: TopLevelSpec, theme: Theme, warnings: string[] = []): VegaSpec {
  const withConfig = { ...spec, config: figureConfig(theme) } as TopLevelSpec;
  return compile(withConfig, { logger: collectingLogger(warnings) as never }).spec;
}

type Node = Record<string, unknown>;

/**
 * The spec without its hover-only layers: a static picture has no pointer, and each hover layer
 * would add an invisible symbol per curve point to the file.
 */
export function staticSpec(spec: TopLevelSpec): TopLevelSpec {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (node === null || typeof node !== 'object') return node;
    const out: Node = {};
    for (const [k, v] of Object.entries(node as Node)) {
      out[k] =
        k === 'layer' && Array.isArray(v)
          ? v.filter((l: Node) => !(typeof l['name'] === 'string' && l['name'].startsWith(HOVER_PREFIX))).map(strip)
          : k === 'data'
            ? v // rows are data, not spec: copied as they are
            : strip(v);
    }
    return out;
  };
  return strip(spec) as TopLevelSpec;
}

/**
 * Vega numbers clip paths from a counter shared by every view in the process, so the same figure
 * would get other ids (other bytes) depending on what was drawn before it. Renumbered from 1 in
 * order of appearance, a figure's SVG depends on the figure alone: a report regenerated from a
 * published bundle equals the original byte for byte however many figures either process drew.
 */
export function renumberClipIds(svg: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/id="clip(\d+)"/g)) if (!ids.has(m[1]!)) ids.set(m[1]!, String(ids.size + 1));
  return svg.replace(/(id="|url\(#)clip(\d+)\b/g, (all, pre: string, n: string) => (ids.has(n) ? `${pre}clip${ids.get(n)!}` : all));
}

export async function renderSvg(spec: TopLevelSpec, theme: Theme = 'neutral'): Promise<Rendered> {
  const warnings: string[] = [];
  const vega = compileFigure(staticSpec(spec), theme, warnings);
  const view = new View(parse(vega), { renderer: 'none', logger: collectingLogger(warnings) as never });
  try {
    const svg = renumberClipIds(await view.toSVG());
    // Headless, the zoom and legend listeners have no window to attach to; that is expected here.
    return { svg, warnings: warnings.filter((w) => !/Can not resolve event source: window/.test(w)) };
  } finally {
    view.finalize();
  }
}
