/** How the study report writes its numbers: compact values, median [IQR], differences with their intervals. */
import { formatNumber } from '../text/table.js';
import type { Comparison, StudyResults } from './results.js';
import type { Summary } from './stats.js';

/** A value for a table or sentence: compact, "—" when missing (text/table formatNumber). */
export const num = (x: number | null | undefined) => formatNumber(x ?? null);
export const medIqr = (s: Summary | null | undefined) => (s ? `${num(s.median)} [${num(s.q1)}–${num(s.q3)}]` : '—');
/** A spike rate's cell: "—" alone when the cell has no runs yet (an unfinished study), else why it is missing. */
export const spikeCell = (s: Summary | undefined, runs: { readonly n: number; readonly diverged: number } | undefined) =>
  s ? `${medIqr(s)} (n=${s.n})` : !runs || runs.n === 0 ? '—' : runs.diverged === runs.n ? '— (all diverged)' : '— (not recorded)';
export const ci = (c: Comparison | undefined) => (c ? `${num(c.estimate)} [${num(c.lo)}, ${num(c.hi)}]` : '—');
export const adj = (c: Comparison | undefined) => (c ? `[${num(c.adjLo)}, ${num(c.adjHi)}]` : '—');
export const pct = (x: number) => `${Number((100 * x).toPrecision(4))}%`;
/** The opening line of every section of study v3's phases: what it shows, and that it decides nothing. */
export const exploratory = (what: string) =>
  `**Exploratory**: ${what}. It decides no verdict; verdicts come only from the pre-registered primary family ("Sub-claim verdicts", at the top).`;
/** The title of the post-hoc check of the spike detector against the loss noise (noise_section.ts). */
export const NOISE_TITLE = 'Spike detector against the loss noise';
/** The exploratory sections of study v3's phases a study's report has, by title (REPORT.md's "## " headings). */
export const phaseSections = (r: StudyResults): string[] =>
  ([
    ['Stress ladder', r.phases.ladder],
    ['Long horizon', r.phases.long],
    ['Width trend', r.phases.width],
    ['Positive control', r.phases.control],
    ["Second-moment spike mechanism", r.phases.mechanism],
    [NOISE_TITLE, r.phases.noise],
  ] as const).flatMap(([title, rows]) => (rows.length ? [title] : []));
