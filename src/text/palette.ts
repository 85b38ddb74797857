/**
 * One colour per optimizer, shared by the SVG/HTML figures and the terminal charts, so "muon" is
 * the same orange in REPORT.md, report.html and `npm start`'s output.
 *
 * Colours are mid-tones (HSL lightness ≈ 50–60 %): each keeps a contrast ratio of at least ~2.5:1
 * against both a white and a near-black page, so a figure with a transparent background reads in
 * light and dark themes alike. Red and grey are left out: red is the conventional "diverged"
 * colour and grey is the colour of axes and text.
 */

/** Fixed colours of the registered optimizers (src/optimizers), so they never depend on order. */
export const OPTIMIZER_COLOURS: Readonly<Record<string, string>> = {
  adamw: '#4e8fd8', // blue
  muon: '#ee8434', // orange
  normuon: '#4caf6a', // green
  adam: '#a27ed6', // purple
  sgd: '#c9a227', // mustard
  'muon-cubic': '#e0679f', // pink
};

/** For labels that are not registered optimizer names (user variants, `adamw×2`, …), in order of first use. */
export const EXTRA_COLOURS: readonly string[] = ['#2db3a6', '#a98454', '#8d8df2', '#7fa83a', '#d08a63', '#5fa8c9'];

/**
 * A colour for every label: registered names get their fixed colour (else the first label that
 * starts with the name and a space does), others the first extra
 * colour not yet taken in this set (cycling if there are more labels than colours). Labels are
 * assigned in the order given, so pass the same list to every figure of one report.
 */
export function seriesColours(labels: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set<string>();
  for (const l of labels) {
    const fixed = OPTIMIZER_COLOURS[l];
    if (fixed !== undefined && !out.has(l)) {
      out.set(l, fixed);
      taken.add(fixed);
    }
  }
  // "adamw lr 0.1" (a series of one optimizer at one LR) takes adamw's colour when no label is
  // plain "adamw": then a plain run folder's figure keeps the optimizer colours of the report.
  for (const l of labels) {
    const fixed = OPTIMIZER_COLOURS[l.split(' ', 1)[0]!];
    if (fixed !== undefined && !out.has(l) && !taken.has(fixed)) {
      out.set(l, fixed);
      taken.add(fixed);
    }
  }
  const free = [...EXTRA_COLOURS, ...Object.values(OPTIMIZER_COLOURS)].filter((c) => !taken.has(c));
  let next = 0;
  for (const l of labels) {
    if (out.has(l)) continue;
    out.set(l, free.length > 0 ? free[next++ % free.length]! : EXTRA_COLOURS[next++ % EXTRA_COLOURS.length]!);
  }
  return out;
}

/**
 * `n` shades of one colour, lightest first: the series of one optimizer at several learning rates
 * (light = small LR, dark = large). Mixed at most 20 % towards white and 35 % towards black, so the
 * ends keep a contrast of about 2:1 on a white page and 2.8:1 on a near-black one.
 */
export function shadesOf(hex: string, n: number): string[] {
  if (n <= 1) return [hex];
  const [r, g, b] = rgb(hex);
  const mix = (t: number) => {
    // t < 0: towards white; t > 0: towards black.
    const target = t < 0 ? 255 : 0;
    const a = Math.abs(t);
    return `#${[r, g, b].map((c) => Math.round(c + (target - c) * a).toString(16).padStart(2, '0')).join('')}`;
  };
  return Array.from({ length: n }, (_, i) => mix(-0.2 + (0.55 * i) / (n - 1)));
}

function rgb(hex: string): [number, number, number] {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`palette: not a #rrggbb colour: ${hex}`);
  return [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
}

/** The xterm 6×6×6 colour cube's channel levels (codes 16–231). */
const CUBE_LEVELS = [0, 95, 135, 175, 215, 255];

/**
 * The nearest colour of the xterm 256-colour cube, as its code. The cube (not the 16 basic
 * colours, which every terminal theme redefines) keeps the hue the figures use.
 */
export function ansi256(hex: string): number {
  const idx = rgb(hex).map((v) => {
    let best = 0;
    for (let i = 1; i < CUBE_LEVELS.length; i++) if (Math.abs(CUBE_LEVELS[i]! - v) < Math.abs(CUBE_LEVELS[best]! - v)) best = i;
    return best;
  });
  return 16 + 36 * idx[0]! + 6 * idx[1]! + idx[2]!;
}

/** The SGR escape that sets the foreground to `hex`'s nearest 256-colour code. */
export function ansiForeground(hex: string): string {
  return `\x1b[38;5;${ansi256(hex)}m`;
}
