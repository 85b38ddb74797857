/**
 * A strict reader for the SVG the figures write: every tag well formed (quoted attributes), every
 * element closed in order, one <svg> root, no stray '<' in text. Returns the elements so tests can
 * count data marks and read text. (No XML parser is a dependency; this covers the XML subset
 * Vega's SVG renderer emits, and fails loudly on anything else.)
 */
export interface SvgElement {
  readonly name: string;
  readonly attrs: Record<string, string>;
  /** Text directly inside the element (entities decoded). */
  text: string;
  readonly parent: SvgElement | null;
}

const TAG = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/y;
const ATTR = /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const decode = (s: string) =>
  s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);/gi, (_m, e: string) => {
    const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    if (named[e] !== undefined) return named[e]!;
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });

export function parseSvg(text: string): SvgElement[] {
  const all: SvgElement[] = [];
  const stack: SvgElement[] = [];
  let i = 0;
  let roots = 0;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chunk = lt < 0 ? text.slice(i) : text.slice(i, lt);
    if (chunk.trim()) {
      if (stack.length === 0) throw new Error(`text outside the root: ${chunk.slice(0, 40)}`);
      stack[stack.length - 1]!.text += decode(chunk);
    }
    if (lt < 0) break;
    if (text.startsWith('<?xml', lt) || text.startsWith('<!--', lt)) {
      const end = text.indexOf(text.startsWith('<?', lt) ? '?>' : '-->', lt);
      if (end < 0) throw new Error('unterminated declaration or comment');
      i = end + 2;
      continue;
    }
    TAG.lastIndex = lt;
    const m = TAG.exec(text);
    if (!m) throw new Error(`malformed tag at ${lt}: ${text.slice(lt, lt + 60)}`);
    const [whole, closing, name, attrText, selfClosing] = m;
    i = lt + whole.length;
    if (closing) {
      const open = stack.pop();
      if (open?.name !== name) throw new Error(`</${name}> closes <${open?.name ?? 'nothing'}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText!.matchAll(ATTR)) attrs[a[1]!] = decode(a[2] ?? a[3] ?? '');
    const el: SvgElement = { name: name!, attrs, text: '', parent: stack.at(-1) ?? null };
    if (!el.parent && ++roots > 1) throw new Error('more than one root element');
    all.push(el);
    if (!selfClosing) stack.push(el);
  }
  if (stack.length) throw new Error(`unclosed <${stack.at(-1)!.name}>`);
  if (all[0]?.name !== 'svg') throw new Error(`root is <${all[0]?.name}>, not <svg>`);
  return all;
}

const classes = (e: SvgElement) => (e.attrs['class'] ?? '').split(/\s+/);

/** Mark groups of a named Vega-Lite layer (`<name>_marks`): one per series for lines and areas. */
export function markGroups(els: readonly SvgElement[], markName: string): SvgElement[] {
  return els.filter((e) => e.name === 'g' && classes(e).includes(`${markName}_marks`));
}

/** The drawn items (paths, lines) inside a mark's groups: one per point for symbols. */
export function markItems(els: readonly SvgElement[], markName: string): SvgElement[] {
  const groups = new Set(markGroups(els, markName));
  return els.filter((e) => (e.name === 'path' || e.name === 'line') && e.parent !== null && groups.has(e.parent));
}

/** All text in the SVG (axis titles, labels, caption lines). */
export function svgTexts(els: readonly SvgElement[]): string[] {
  return els.filter((e) => e.name === 'text' || e.name === 'tspan').map((e) => e.text.trim()).filter(Boolean);
}
