/**
 * One self-contained HTML page of figures: the Vega and Vega-Lite runtimes are read from
 * node_modules when the page is written and inlined with the specs and their data, so the file
 * opens from disk with no network. A few lines of glue compile each spec in the page, render it
 * as SVG laid out to the width of its container (again when the window is resized), and show hover
 * values in a small tooltip; zoom and series toggling are params in the specs.
 * Colours follow prefers-color-scheme (light or dark text and grid; the series colours are the same).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Figure } from './specs.js';
import { figureConfig, FONT, LAYOUT_JS } from './theme.js';

const require = createRequire(import.meta.url);

/** The packages' own browser builds (UMD: they define the globals `vega` and `vegaLite`). */
function runtime(): { vega: string; vegaLite: string } {
  // The packages' export maps expose only their entry points, so locate the build folders from them.
  const vegaDir = dirname(require.resolve('vega'));
  const vegaLiteDir = dirname(require.resolve('vega-lite'));
  return {
    vega: readFileSync(join(vegaDir, 'vega.min.js'), 'utf8'),
    vegaLite: readFileSync(join(vegaLiteDir, 'vega-lite.min.js'), 'utf8'),
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** Inline script text must not contain `</script`; `<\/` means the same inside JS strings and regexes. */
const inlineScript = (js: string) => js.replace(/<\/(script)/gi, '<\\/$1');
/** JSON in a <script type="application/json"> block: `<` escaped so no tag can close it. */
const inlineJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

export interface PageInput {
  readonly title: string;
  /** Plain-text paragraphs under the title. */
  readonly intro?: readonly string[];
  /** A plain-text table under the intro (a study's sub-claim verdicts: the answer comes first). */
  readonly table?: { readonly head: readonly string[]; readonly rows: readonly (readonly string[])[] };
  readonly figures: readonly Figure[];
}

/** Runs in the page: lay out, compile, render, tooltips. Kept small and dependency-free. */
const GLUE = `
(function () {
  'use strict';
  var layout = ${LAYOUT_JS};
  // The same steps as pageSpec in specs.ts (which the playground uses): columns, panel sizes and
  // legend columns for this width.
  function laidOut(spec, width, config) {
    if (!spec.concat) return Object.assign({}, spec, { config: config });
    var meta = spec.usermeta || {};
    var l = layout(width, spec.concat.length, meta.fixedColumns || 0);
    return Object.assign({}, spec, {
      columns: l.columns,
      concat: spec.concat.map(function (p) { return Object.assign({}, p, { width: l.width, height: l.height }); }),
      config: Object.assign({}, config, { legend: Object.assign({}, config.legend, { columns: l.legendColumns }) })
    });
  }
  var media = window.matchMedia('(prefers-color-scheme: dark)');
  var configs = JSON.parse(document.getElementById('figure-configs').textContent);
  var figures = JSON.parse(document.getElementById('figure-specs').textContent);
  var tip = document.getElementById('tooltip');
  function showTooltip(handler, event, item, value) {
    if (value === null || value === undefined || value === '') { tip.hidden = true; return; }
    tip.replaceChildren();
    var entries = typeof value === 'object' ? Object.entries(value) : [['', value]];
    entries.forEach(function (kv) {
      var row = document.createElement('div');
      if (kv[0]) { var k = document.createElement('b'); k.textContent = kv[0] + ': '; row.appendChild(k); }
      row.appendChild(document.createTextNode(String(kv[1])));
      tip.appendChild(row);
    });
    tip.hidden = false;
    var x = event.clientX + 14, y = event.clientY + 14;
    var r = tip.getBoundingClientRect();
    if (x + r.width > window.innerWidth) x = event.clientX - r.width - 10;
    if (y + r.height > window.innerHeight) y = event.clientY - r.height - 10;
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  var views = [];
  var renderedWidth = 0;
  function renderAll() {
    views.forEach(function (v) { v.finalize(); });
    views = [];
    var config = media.matches ? configs.dark : configs.light;
    renderedWidth = document.body.clientWidth;
    return Promise.all(figures.map(function (f) {
      var el = document.querySelector('[data-figure="' + f.id + '"] .chart');
      // Axis labels are measured only when drawn: a figure that comes out wider than its container
      // (long tick labels) is drawn once more, narrower by the excess.
      function draw(width, retry) {
        el.replaceChildren();
        var spec = laidOut(f.spec, width, config);
        delete spec.title; // the caption is the <figcaption> here
        var view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'svg', container: el, hover: true });
        view.tooltip(showTooltip);
        return view.runAsync().then(function () {
          var svg = el.querySelector('svg');
          var excess = svg ? svg.getBoundingClientRect().width - el.clientWidth : 0;
          if (excess > 0.5 && retry) { view.finalize(); return draw(width - Math.ceil(excess) - 2, false); }
          views.push(view);
          el.setAttribute('data-rendered', 'true');
        });
      }
      return draw(el.clientWidth, true);
    }));
  }
  renderAll().then(
    function () { document.body.setAttribute('data-ready', 'true'); },
    function (e) { console.error(e); document.body.setAttribute('data-ready', 'error'); }
  );
  media.addEventListener('change', function () { renderAll(); });
  var resizing = 0;
  window.addEventListener('resize', function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { if (document.body.clientWidth !== renderedWidth) renderAll(); }, 200);
  });
  document.addEventListener('scroll', function () { tip.hidden = true; }, { passive: true });
})();
`;

const CSS = `
:root { color-scheme: light dark; --fg: #1f1f1f; --muted: #555; --bg: #ffffff; --line: #ddd; --tip: #ffffffee; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e6e6; --muted: #a8a8a8; --bg: #0d1117; --line: #30363d; --tip: #161b22ee; } }
body { margin: 0 auto; padding: 24px 28px 60px; max-width: 1400px; background: var(--bg); color: var(--fg); font-family: ${FONT}; line-height: 1.45; }
h1 { font-size: 1.5em; margin: 0 0 6px; }
h2 { font-size: 1.2em; margin: 34px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p.intro { color: var(--muted); margin: 4px 0; max-width: 70em; }
table.answer { border-collapse: collapse; margin: 10px 0; font-size: 0.92em; }
table.answer th, table.answer td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; }
p.help { color: var(--muted); font-size: 0.9em; }
figure { margin: 18px 0 26px; }
figure .chart { width: 100%; }
figcaption { color: var(--muted); font-size: 0.92em; max-width: 70em; margin-top: 4px; }
figcaption b { color: var(--fg); }
#tooltip { position: fixed; z-index: 10; pointer-events: none; background: var(--tip); color: var(--fg); border: 1px solid var(--line); border-radius: 4px; padding: 5px 8px; font-size: 12px; box-shadow: 0 2px 6px #0003; }
`;

export function renderHtmlPage(input: PageInput): string {
  const rt = runtime();
  const sections = new Map<string, Figure[]>();
  for (const f of input.figures) sections.set(f.section, [...(sections.get(f.section) ?? []), f]);
  const body = [...sections.entries()]
    .map(
      ([section, figs]) =>
        `<section><h2>${escapeHtml(section)}</h2>\n${figs
          .map(
            (f) =>
              `<figure id="fig-${escapeHtml(f.id)}" data-figure="${escapeHtml(f.id)}"><div class="chart"></div>` +
              `<figcaption><b>${escapeHtml(f.title)}.</b> ${escapeHtml(f.caption)}</figcaption></figure>`,
          )
          .join('\n')}</section>`,
    )
    .join('\n');
  const specs = input.figures.map((f) => ({ id: f.id, spec: f.spec }));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(input.title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(input.title)}</h1>
${(input.intro ?? []).map((p) => `<p class="intro">${escapeHtml(p)}</p>`).join('\n')}
${input.table ? `<table class="answer"><thead><tr>${input.table.head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${input.table.rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>` : ''}
<p class="help">Hover a mark for its values. Curves: drag to pan, scroll to zoom, double-click to reset. Click a legend entry to highlight that optimizer (shift-click adds one; double-click resets).</p>
${body}
<div id="tooltip" role="tooltip" hidden></div>
<script type="application/json" id="figure-configs">${inlineJson({ light: figureConfig('light'), dark: figureConfig('dark') })}</script>
<script type="application/json" id="figure-specs">${inlineJson(specs)}</script>
<script>${inlineScript(rt.vega)}</script>
<script>${inlineScript(rt.vegaLite)}</script>
<script>${GLUE}</script>
</body>
</html>
`;
}
