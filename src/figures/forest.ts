/**
 * The forest plot of a study's primary family: one row per pre-registered endpoint, its effect
 * (treatment − baseline) with its interval, a zero line, coloured by verdict. Endpoints measure
 * different things (spikes per 1k steps, a loss, a hazard), so each row has its own x scale: the
 * plot compares each effect with zero, never one row's length with another's. Rank-sum endpoints
 * show the Hodges–Lehmann shift and its distribution-free 95 % interval (an end the groups are too
 * small to bound is drawn to the edge of the row and marked open); log-rank endpoints show
 * ln(observed/expected failures) of the treatment, a point without interval (the permutation test
 * gives a p, not an interval). An endpoint the runs could not measure keeps its row, labelled "not
 * measured" with why, a zero line and no effect or interval (it entered Holm with p = 1).
 */
import { phaseOf, type PrimaryOutcome, type VerdictKind } from '../study/verdict.js';
import { multipliersText } from '../study/verdict_section.js';
import { MARKS, type Figure } from './specs.js';

/** Colours of the verdicts: the answer's three states, distinct from the optimizers' colours. */
export const VERDICT_COLOURS: Readonly<Record<VerdictKind, string>> = {
  supported: '#2e9e5b',
  contradicted: '#d0453a',
  inconclusive: '#8a8f98',
};

export const FOREST_ID = 'forest-primary';
export const VERDICT_SECTION = 'Sub-claim verdicts';

const round = (x: number) => Number(x.toPrecision(4));

/** A forest row: an effect with its interval, or (not measured) none. */
interface Row {
  readonly label: string;
  readonly effect: number | null;
  readonly lo: number | null;
  readonly hi: number | null;
  readonly open: string;
  readonly scale: string;
  readonly verdict: VerdictKind;
  readonly p: number;
  readonly holm: number;
}

/** The forest plot of a study's primary family: one row per pre-registered endpoint. */
export function forestFigure(outcome: PrimaryOutcome, treatment: string, baseline: string): Figure {
  const decision = outcome.decision;
  const rows = decision.primary.map((p): Row => {
    const e = p.endpoint;
    const mults = multipliersText(e, outcome.multipliersUsed[e.subClaim], ',');
    const label = `(${e.subClaim}) ${e.task} ${phaseOf(e) === 'long' ? 'long-horizon ' : ''}${e.arm === 'none' ? '' : `${e.arm} `}${mults} ${e.metric}${e.detector ? ` (${e.detector})` : ''}`;
    if (p.unmeasured !== null) {
      return { label: `${label}: not measured (${p.unmeasured})`, effect: null, lo: null, hi: null, open: 'not measured', scale: '—', verdict: p.verdict, p: p.p, holm: p.holmP };
    }
    if (p.shift) {
      const finite = [p.shift.lo, p.shift.hi].filter(Number.isFinite);
      // An unbounded end is drawn to the row's widest finite value (or ±1 around the estimate).
      // All-zero rows (e.g. no spike on either side) get a unit span, not a scale of width 0.
      const span = Math.max(...finite.map((x) => Math.abs(x - p.shift!.estimate)), Math.abs(p.shift.estimate)) || 1;
      return {
        label,
        effect: round(p.shift.estimate),
        lo: round(Number.isFinite(p.shift.lo) ? p.shift.lo : p.shift.estimate - 2 * span),
        hi: round(Number.isFinite(p.shift.hi) ? p.shift.hi : p.shift.estimate + 2 * span),
        open: Number.isFinite(p.shift.lo) && Number.isFinite(p.shift.hi) ? '' : 'unbounded at this n',
        scale: 'shift',
        verdict: p.verdict,
        p: p.p,
        holm: p.holmP,
      };
    }
    const defined = p.effect > 0 && Number.isFinite(p.effect);
    const lnRatio = defined ? Math.log(p.effect) : 0;
    // lo = hi = the point: a zero-length rule, so every row's scale has finite ends.
    return { label, effect: round(lnRatio), lo: round(lnRatio), hi: round(lnRatio), open: defined ? '' : 'no failures', scale: 'ln O/E', verdict: p.verdict, p: p.p, holm: p.holmP };
  });
  const colour = {
    field: 'verdict',
    type: 'nominal',
    title: 'verdict',
    scale: { domain: Object.keys(VERDICT_COLOURS), range: Object.values(VERDICT_COLOURS) },
  };
  const x = { field: 'effect', type: 'quantitative', title: null, scale: { zero: true, nice: true } };
  const tooltip = [
    { field: 'label', title: 'endpoint' },
    { field: 'effect', title: 'effect', format: '.3~g' },
    { field: 'lo', title: 'interval low', format: '.3~g' },
    { field: 'hi', title: 'interval high', format: '.3~g' },
    { field: 'scale', title: 'unit' },
    { field: 'p', title: 'exact p', format: '.3~g' },
    { field: 'holm', title: 'Holm p', format: '.3~g' },
    { field: 'verdict', title: 'verdict' },
  ];
  return {
    id: FOREST_ID,
    section: VERDICT_SECTION,
    title: `Primary endpoints: ${treatment} − ${baseline}, effect and interval per sub-claim`,
    caption:
      `One row per pre-registered endpoint, coloured by its verdict (Holm over the ${rows.length} endpoints at α = ${decision.alpha}). ` +
      'Per-run values: Hodges–Lehmann shift with its 95 % distribution-free interval (an end the sample is too small to bound is drawn to the row edge and marked "unbounded"). ' +
      'Time to failure: ln(observed ÷ expected failures) of the treatment, a point. Left of the zero line: the treatment lower (fewer spikes, lower loss, fewer failures). Each row has its own scale. ' +
      'A row marked "not measured" has no effect: the runs could not measure it, and it entered Holm with p = 1.',
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      vconcat: rows.map((row, i) => {
        // Each row its own scale, always showing zero; a flat row (a point at 0) gets ±1, and so does a row not measured.
        const ends = [row.lo, row.hi, row.effect].filter((v): v is number => v !== null);
        const lo = Math.min(0, ...ends);
        const hi = Math.max(0, ...ends);
        const pad = (hi - lo) * 0.08 || 1;
        const rx = { ...x, scale: { domain: [round(lo - pad), round(hi + pad)], nice: false, zero: false } };
        const zero = { mark: { type: 'rule', strokeDash: [3, 3] }, encoding: { x: { datum: 0, type: 'quantitative', scale: rx.scale } } };
        const note = { mark: { type: 'text', align: 'left', dx: 6, dy: -8, fontSize: 10 }, encoding: { x: row.effect === null ? { datum: 0, type: 'quantitative', scale: rx.scale } : rx, text: { field: 'open' } } };
        return {
          title: { text: row.label, anchor: 'start', fontSize: 11, fontWeight: 'normal' },
          data: { values: [row] },
          width: 360,
          height: 22,
          // Not measured: the zero line and the words, no interval or point to misread as an effect.
          layer:
            row.effect === null
              ? [zero, note]
              : [
                  zero,
                  { name: `${MARKS.interval}${i}`, mark: { type: 'rule', strokeWidth: 2 }, encoding: { x: { ...rx, field: 'lo' }, x2: { field: 'hi' }, color: colour, tooltip } },
                  { name: `${MARKS.point}${i}`, mark: { type: 'point', filled: true, size: 70 }, encoding: { x: rx, color: colour, tooltip } },
                  note,
                ],
        };
      }),
      resolve: { scale: { x: 'independent', color: 'shared' } },
    } as Figure['spec'],
  };
}
