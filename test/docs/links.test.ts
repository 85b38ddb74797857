/**
 * The documentation holds together: every relative link and #anchor in README.md and docs/*.md
 * points at a file that exists and a heading or `<a id>` that exists in it; every citation
 * `docs/references.md#ANCHOR` in the code names a section of that page; and every `npm run X`
 * the pages tell a reader to type is a script in package.json. Pages moved between README and
 * docs/ would otherwise leave links that silently go nowhere.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** Markdown with fenced code blocks and inline code blanked out: links inside code are examples, not links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading slug: lower case, drop everything but letters, digits, spaces, '-' and '_', spaces → '-'. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a page offers: its headings' slugs (duplicates numbered as GitHub does) and explicit ids. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const m of withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(m[1]!.replace(/`/g, ''));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]!);
  return out;
}

/** Every inline link target `[text](target)` in the page's prose. */
function linkTargets(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
}

/**
 * The links of `pages` (path → text, paths absolute) that do not resolve: a relative file that is
 * not there, or an #anchor the target page does not offer. External links are not checked here.
 */
function brokenLinks(pages: ReadonlyMap<string, string>, exists: (path: string) => boolean): string[] {
  const broken: string[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchorsOf = (path: string): Set<string> => {
    let a = anchorCache.get(path);
    if (!a) {
      a = anchors(pages.get(path) ?? readFileSync(path, 'utf8'));
      anchorCache.set(path, a);
    }
    return a;
  };
  for (const [page, text] of pages) {
    for (const target of linkTargets(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      const [pathPart, fragment] = target.split('#', 2) as [string, string | undefined];
      const file = pathPart === '' ? page : resolve(dirname(page), decodeURI(pathPart));
      const where = `${relative(ROOT, page)}: (${target})`;
      if (!pages.has(file) && !exists(file)) {
        broken.push(`${where} → no file ${relative(ROOT, file)}`);
        continue;
      }
      if (fragment !== undefined && file.endsWith('.md') && !anchorsOf(file).has(fragment)) {
        broken.push(`${where} → ${relative(ROOT, file)} has no anchor #${fragment}`);
      }
    }
  }
  return broken;
}

function docPages(): Map<string, string> {
  const files = [join(ROOT, 'README.md'), ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'docs', f))];
  return new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|mjs)$/.test(entry)) out.push(path);
  }
  return out;
}

describe('the link checker itself', () => {
  it('finds a missing file, a missing anchor, and accepts headings, explicit ids and code examples', () => {
    const a = join(ROOT, 'virtual', 'a.md');
    const b = join(ROOT, 'virtual', 'b.md');
    const pages = new Map([
      [a, '# A\n\n## Newton–Schulz in `bf16`\n\nSee [b](b.md#there), [self](#newtonschulz-in-bf16), [gone](c.md), [bad](b.md#nowhere).\n\n```ts\n[not a link](nowhere.md)\n```\n'],
      [b, '<a id="there"></a>\n## Elsewhere\n'],
    ]);
    expect(brokenLinks(pages, () => false)).toEqual(['virtual/a.md: (c.md) → no file virtual/c.md', 'virtual/a.md: (b.md#nowhere) → virtual/b.md has no anchor #nowhere']);
  });

  it('numbers repeated headings as GitHub does', () => {
    expect([...anchors('## Resume\n## Resume\n')]).toEqual(['resume', 'resume-1']);
  });
});

describe('README.md and docs/', () => {
  const pages = docPages();

  it('every relative link and #anchor resolves', () => {
    expect(brokenLinks(pages, existsSync)).toEqual([]);
  });

  it('every docs/references.md#ANCHOR cited in src/, experiments/ and test/ is a section of that page', () => {
    const offered = anchors(pages.get(join(ROOT, 'docs', 'references.md'))!);
    const cited = new Map<string, string>();
    for (const file of ['src', 'experiments', 'test'].flatMap((d) => sourceFiles(join(ROOT, d)))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/docs\/references\.md#([a-z0-9-]+)/g)) cited.set(m[1]!, relative(ROOT, file));
    }
    expect(cited.size).toBeGreaterThan(5);
    expect([...cited].filter(([anchor]) => !offered.has(anchor)).map(([anchor, file]) => `${file}: #${anchor}`)).toEqual([]);
  });

  it('cites no "REFERENCE §n" the reader cannot follow', () => {
    for (const [page, text] of pages) expect(text, relative(ROOT, page)).not.toMatch(/REFERENCE §/);
  });

  it('every `npm run X` the pages show is a script in package.json, and the README shows the two commands', () => {
    const scripts = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);
    const used = new Set<string>();
    for (const text of pages.values()) for (const m of text.matchAll(/npm run ([\w:-]+)/g)) used.add(m[1]!);
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((s) => !scripts.includes(s))).toEqual([]);
    const readme = pages.get(join(ROOT, 'README.md'))!;
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toMatch(/^npm test\b/m);
  });
});
