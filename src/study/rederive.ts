/**
 * The independent re-derivation of a published bundle's verdicts (`sandbox verify-bundle DIR`):
 * from primary.json alone (primary_format.ts) — each primary endpoint's samples, its test's method
 * and seed — recompute every p with rederive_stats.ts, Holm over the family, the decisions and the
 * verdicts, and compare them with what the bundle states; then compare the verdicts with the ones
 * REPORT.md publishes, when it is there. An endpoint the runs could not measure has no samples and
 * enters Holm with p = 1 by the rule, not by a test: that p is put into the re-derived Holm as 1,
 * whatever the row states, so a row that states another is caught. Nothing here imports the verdict code it checks
 * (verdict.ts, exact.ts, stats.ts) or anything that does.
 *
 * Agreement: p and Holm p within 1e-9 relative (an exact p is a ratio of exact counts, so any real
 * difference is far larger; a seeded p is drawn again with the same draws and agrees exactly), and
 * the same observed direction, Holm decision and verdict.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { formatNumber, renderTable } from '../text/table.js';
import { BUNDLE_FILE, PRIMARY_FILE, REPORT_FILE } from './bundle_files.js';
import { PRIMARY_FORMAT, PRIMARY_VERSION, type FileDirection, type FileRow, type FileVerdict, type PrimaryFile } from './primary_format.js';
import { holmAdjusted, logRankP, mannWhitneyU, rankSumP } from './rederive_stats.js';

/** Relative tolerance of a p-value comparison. */
export const P_TOLERANCE = 1e-9;

/** One endpoint, as the bundle states it and as re-derived. */
export interface RowCheck {
  readonly label: string;
  readonly bundle: { readonly p: number; readonly holmP: number; readonly rejected: boolean; readonly observed: FileDirection | null; readonly verdict: FileVerdict };
  readonly rederived: { readonly p: number; readonly holmP: number; readonly rejected: boolean; readonly observed: FileDirection | null; readonly verdict: FileVerdict };
  readonly agree: boolean;
}

export interface Rederivation {
  readonly rows: readonly RowCheck[];
  /** Every disagreement and inconsistency, one line each; empty when the bundle's verdicts re-derive. */
  readonly problems: readonly string[];
  /** What was (not) checked, e.g. a v2 bundle with no family. */
  readonly notes: readonly string[];
}

const VERDICTS: readonly FileVerdict[] = ['supported', 'contradicted', 'inconclusive'];
const DIRECTIONS: readonly FileDirection[] = ['treatment-lower', 'treatment-higher'];

const close = (x: number, y: number) => x === y || Math.abs(x - y) <= P_TOLERANCE * Math.max(Math.abs(x), Math.abs(y));

/** primary.json of a bundle folder, its shape checked; a missing or malformed one is the user's to fix. */
export function readPrimaryFile(dir: string): PrimaryFile {
  const path = join(dir, PRIMARY_FILE);
  if (!existsSync(path)) throw new UsageError(`${path}: not found; publish the study again with this checkout (or run \`npm run report -- ${dir}\`) to write it`);
  let f: PrimaryFile;
  try {
    f = JSON.parse(readFileSync(path, 'utf8')) as PrimaryFile;
  } catch (e) {
    throw new UsageError(`${path}: damaged (${(e as Error).message.split('\n', 1)[0]})`);
  }
  const bad = (what: string) => new UsageError(`${path}: ${what}`);
  if (typeof f !== 'object' || f === null || f.format !== PRIMARY_FORMAT) throw bad(`not a primary family file (no "format": "${PRIMARY_FORMAT}")`);
  if (f.version !== PRIMARY_VERSION) throw bad(`version ${String(f.version)}, this code reads version ${PRIMARY_VERSION}; use a matching checkout`);
  if (!Array.isArray(f.unmeasured) || (f.family !== null && !Array.isArray(f.family))) throw bad('"family" or "unmeasured" is not a list');
  if (f.decision === null) return f;
  if (typeof f.decision !== 'object' || !Array.isArray(f.decision.rows) || !(f.decision.alpha > 0 && f.decision.alpha < 1)) throw bad('"decision" needs "alpha" in (0, 1) and a list of "rows"');
  const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  f.decision.rows.forEach((r: FileRow, i) => {
    const where = `row ${i + 1}`;
    const s = r.samples;
    if (!(r.unmeasured === null || (typeof r.unmeasured === 'string' && r.unmeasured !== ''))) throw bad(`${where}: "unmeasured" must be null or the reason the endpoint was not measured`);
    // Only an unmeasured endpoint goes without samples; whether its other fields fit is rederive's to say.
    if (s === null) {
      if (r.unmeasured === null) throw bad(`${where}: no samples, yet the endpoint is not listed as unmeasured`);
    } else {
      if (!s || !Array.isArray(s.treatment) || !Array.isArray(s.baseline) || s.treatment.length === 0 || s.baseline.length === 0) throw bad(`${where}: samples need two non-empty lists`);
      const ok = s.kind === 'values' ? [...s.treatment, ...s.baseline].every(finite) : s.kind === 'survival' && [...s.treatment, ...s.baseline].every((o) => finite(o?.time) && o.time >= 0 && typeof o.event === 'boolean');
      if (!ok) throw bad(`${where}: samples must be finite numbers ("values") or {time ≥ 0, event} ("survival")`);
    }
    if (![r.p, r.holmP].every(finite) || typeof r.rejected !== 'boolean' || !r.test || !Number.isInteger(r.test.seed)) throw bad(`${where}: needs p, holmP, rejected and test.seed`);
    if (typeof r.endpoint?.subClaim !== 'string' || !Array.isArray(r.multipliersUsed)) throw bad(`${where}: needs an endpoint and its multipliersUsed`);
    if (!VERDICTS.includes(r.verdict) || !(r.observed === null || DIRECTIONS.includes(r.observed))) throw bad(`${where}: verdict or observed direction out of range`);
    if (r.test.permutations !== null && !(Number.isInteger(r.test.permutations) && r.test.permutations >= 0)) throw bad(`${where}: test.permutations must be a count or null`);
  });
  return f;
}

const label = (r: FileRow) => {
  const e = r.endpoint;
  const mults = r.unmeasured !== null ? 'not measured' : r.multipliersUsed.map((m) => `${m}×`).join('+');
  return `(${e.subClaim}) ${e.task}${e.phase === 'long' ? ' long-horizon' : ''} ${e.arm === 'none' ? 'no arm' : e.arm} ${mults} ${e.metric}${e.detector ? ` (${e.detector})` : ''}`;
};

/** The row's p and observed direction, re-derived from its samples by its stated method; or a problem. */
function rederiveTest(r: FileRow): { p: number; observed: FileDirection | null } | string {
  const { samples: s, test } = r;
  if (r.unmeasured !== null) {
    // No test ran: p = 1 by the rule, no direction. A row stating data or a test is not an unmeasured one.
    if (s !== null || test.method !== null || test.permutations !== null || r.multipliersUsed.length > 0) {
      return `listed as not measured (${r.unmeasured}), yet it states samples, a test method, permutations or multipliers`;
    }
    return { p: 1, observed: null };
  }
  if (s === null) return 'no samples, yet not listed as unmeasured';
  if (test.method === null) return 'measured, yet no test method';
  const expected = r.endpoint.test === 'rank-sum' ? 'values' : 'survival';
  if (s.kind !== expected) return `${r.endpoint.test} needs ${expected} samples, the bundle has ${s.kind}`;
  const seeded = test.method === 'monte-carlo' || test.method === 'permutation';
  if (seeded !== (test.permutations !== null)) return `method ${test.method} with permutations ${String(test.permutations)}`;
  if (s.kind === 'values') {
    if (!['exact', 'exact-midrank', 'monte-carlo'].includes(test.method)) return `a rank-sum p cannot come from method ${test.method}`;
    const p = rankSumP(s.treatment, s.baseline, seeded ? { seed: test.seed, permutations: test.permutations! } : null);
    const u = mannWhitneyU(s.treatment, s.baseline);
    const half = (s.treatment.length * s.baseline.length) / 2;
    return { p, observed: u === half ? null : u < half ? 'treatment-lower' : 'treatment-higher' };
  }
  if (test.method !== 'permutation') return `a log-rank p comes from method permutation, not ${test.method}`;
  const { p, oMinusE } = logRankP(s.treatment, s.baseline, { seed: test.seed, permutations: test.permutations! });
  return { p, observed: oMinusE === 0 ? null : oMinusE < 0 ? 'treatment-lower' : 'treatment-higher' };
}

/** Re-derive every verdict of a primary.json and say where it disagrees with what it states. */
export function rederive(f: PrimaryFile): Rederivation {
  if (f.family === null) return { rows: [], problems: f.decision ? ['a decision without a pre-registered family'] : [], notes: ['no pre-registered primary family (a v2 study): no verdict to re-derive'] };
  // Every registered endpoint has a row, an unmeasured one too (p = 1): a family always decides.
  if (f.decision === null) return { rows: [], problems: ['no decision, yet a family is registered: each of its endpoints needs a row, an unmeasured one with p = 1'], notes: [] };
  const problems: string[] = [];
  const { alpha, rows } = f.decision;
  // Holm's family is the registered one: a row dropped or added would change every adjusted p.
  if (canonical(rows.map((r) => r.endpoint)) !== canonical(f.family)) problems.push(`the decided endpoints (${rows.map((r) => r.endpoint.subClaim).join(', ')}) are not the pre-registered family (${f.family.map((e) => e.subClaim).join(', ')}), in order`);
  // The rows marked unmeasured, with their reasons, are the ones the top-level list names.
  const whyText = (u: readonly { subClaim: string; why: string }[]) => [...u].sort((x, y) => (x.subClaim < y.subClaim ? -1 : x.subClaim > y.subClaim ? 1 : 0)).map((x) => `(${x.subClaim}) ${x.why}`);
  const fromRows = whyText(rows.flatMap((r) => (r.unmeasured !== null ? [{ subClaim: r.endpoint.subClaim, why: r.unmeasured }] : [])));
  const listed = whyText(f.unmeasured);
  if (canonical(fromRows) !== canonical(listed)) problems.push(`the rows not measured (${fromRows.join('; ') || 'none'}) are not the ones listed as unmeasured (${listed.join('; ') || 'none'})`);
  const tests = rows.map((r) => {
    const t = rederiveTest(r);
    if (typeof t === 'string') problems.push(`${label(r)}: ${t}`);
    return typeof t === 'string' ? { p: NaN, observed: null } : t;
  });
  const holm = tests.some((t) => Number.isNaN(t.p)) ? tests.map(() => NaN) : holmAdjusted(tests.map((t) => t.p));
  const checks = rows.map((r, i): RowCheck => {
    const { p, observed } = tests[i]!;
    const holmP = holm[i]!;
    const rejected = holmP <= alpha;
    const verdict: FileVerdict = !rejected || observed === null ? 'inconclusive' : observed === r.endpoint.supportsWhen ? 'supported' : 'contradicted';
    const bundle = { p: r.p, holmP: r.holmP, rejected: r.rejected, observed: r.observed, verdict: r.verdict };
    const agree = close(p, r.p) && close(holmP, r.holmP) && rejected === r.rejected && observed === r.observed && verdict === r.verdict;
    const says = (d: RowCheck['bundle']) => `p ${d.p}, Holm p ${d.holmP}, ${d.rejected ? 'rejected' : 'not rejected'}, ${d.observed ?? 'no direction'}, ${d.verdict}`;
    if (!agree) problems.push(`${label(r)}: the bundle states ${says(bundle)}; re-derived ${says({ p, holmP, rejected, observed, verdict })}`);
    return { label: label(r), bundle, rederived: { p, holmP, rejected, observed, verdict }, agree };
  });
  const holes = fromRows.length ? `, ${fromRows.length} of them not measured and entered as p = 1: ${fromRows.join('; ')}` : '';
  return { rows: checks, problems, notes: [`Holm over the ${rows.length} endpoint(s) at α = ${alpha} (the bundle's)${holes}`] };
}

/**
 * The verdicts REPORT.md publishes, by sub-claim: the rows of the verdicts table under
 * "## Sub-claim verdicts", read by the header's 'verdict' column; null when there is no such table.
 */
export function reportVerdicts(markdown: string): Map<string, string> | null {
  const start = markdown.indexOf('## Sub-claim verdicts');
  if (start < 0) return null;
  const end = markdown.indexOf('\n## ', start + 1);
  const lines = markdown.slice(start, end < 0 ? undefined : end).split('\n').filter((l) => l.startsWith('|'));
  const cells = (l: string) => l.split('|').slice(1, -1).map((c) => c.trim());
  const head = lines[0] ? cells(lines[0]) : [];
  const at = head.indexOf('verdict');
  if (head[0] !== 'sub-claim' || at < 0) return null;
  const out = new Map<string, string>();
  for (const l of lines.slice(2)) {
    const c = cells(l);
    const id = /^\((\w)\)$/.exec(c[0] ?? '')?.[1];
    if (id) out.set(id, (c[at] ?? '').replace(/\*/g, ''));
  }
  return out;
}

/** Compare REPORT.md's verdicts with the re-derived ones; problems, one line each. */
function checkReport(markdown: string, f: PrimaryFile, checks: readonly RowCheck[]): string[] {
  if (!f.decision) return [];
  const stated = reportVerdicts(markdown);
  if (!stated) return [`${REPORT_FILE} has no verdicts table, yet the family was decided`];
  const problems: string[] = [];
  f.decision.rows.forEach((r, i) => {
    const id = r.endpoint.subClaim;
    const want = checks[i]!.rederived.verdict;
    if (stated.get(id) !== want) problems.push(`${REPORT_FILE} states (${id}) ${stated.get(id) ?? 'nothing'}, re-derived ${want}`);
  });
  const extra = [...stated.keys()].filter((id) => !f.decision!.rows.some((r) => r.endpoint.subClaim === id));
  if (extra.length) problems.push(`${REPORT_FILE} has verdicts for sub-claims outside the family: ${extra.join(', ')}`);
  return problems;
}

/** p to 10 significant digits: enough to show a difference that matters at the 1e-9 tolerance's scale. */
const pText = (p: number, digits = 10) => (Number.isNaN(p) ? '—' : formatNumber(p, digits));
const decisionText = (d: RowCheck['bundle']) => `${d.verdict} (Holm p ${pText(d.holmP, 4)}${d.rejected ? ', rejected' : ''})`;

/** The table a reader sees: endpoint | p (bundle) | p (re-derived) | decision (bundle) | decision (re-derived) | agree. */
export function rederivationTable(checks: readonly RowCheck[]): string {
  return renderTable(
    ['endpoint', 'p (bundle)', 'p (re-derived)', 'decision (bundle)', 'decision (re-derived)', 'agree'],
    checks.map((c) => [c.label, pText(c.bundle.p), pText(c.rederived.p), decisionText(c.bundle), decisionText(c.rederived), c.agree ? 'yes' : 'NO']),
    { align: ['left', 'right', 'right', 'left', 'left', 'left'] },
  );
}

/** JSON with object keys sorted, so two encodings of the same value compare equal. */
function canonical(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonical).join(',')}]`;
  if (typeof x === 'object' && x !== null) return `{${Object.keys(x).sort().map((k) => `${JSON.stringify(k)}:${canonical((x as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(x) ?? 'null';
}

/**
 * The family and sides primary.json states against the study spec bundle.json carries (written by
 * `publish` before any analysis): a family edited in one file only is a problem.
 */
function checkSpec(dir: string, f: PrimaryFile): { problems: string[]; notes: string[] } {
  const path = join(dir, BUNDLE_FILE);
  let spec: { primary?: unknown; treatment?: unknown; baseline?: unknown } | undefined;
  try {
    spec = (JSON.parse(readFileSync(path, 'utf8')) as { study?: { spec?: typeof spec } }).study?.spec;
  } catch {
    spec = undefined;
  }
  if (!spec) return { problems: [], notes: [`no readable study spec in ${path}: the family was not compared with it`] };
  const problems: string[] = [];
  if (canonical(spec.primary ?? null) !== canonical(f.family)) problems.push(`${PRIMARY_FILE}'s family is not the one ${BUNDLE_FILE}'s study spec pre-registers`);
  if (spec.treatment !== f.treatment || spec.baseline !== f.baseline) problems.push(`${PRIMARY_FILE} compares ${f.treatment} with ${f.baseline}, the study spec ${String(spec.treatment)} with ${String(spec.baseline)}`);
  return { problems, notes: [] };
}

/**
 * Verify a bundle folder: re-derive primary.json, check its family against bundle.json's study spec,
 * and compare the verdicts with REPORT.md's when it is there.
 */
export function verifyBundle(dir: string): Rederivation {
  if (!existsSync(dir)) throw new UsageError(`${dir}: no such folder`);
  const f = readPrimaryFile(dir);
  const r = rederive(f);
  const spec = checkSpec(dir, f);
  const problems = [...r.problems, ...spec.problems];
  const notes = [...r.notes, ...spec.notes];
  const report = join(dir, REPORT_FILE);
  if (!existsSync(report)) return { rows: r.rows, problems, notes: [...notes, `no ${REPORT_FILE} in ${dir}: its verdicts were not compared`] };
  const fromReport = checkReport(readFileSync(report, 'utf8'), f, r.rows);
  return { rows: r.rows, problems: [...problems, ...fromReport], notes: [...notes, ...(f.decision && fromReport.length === 0 ? [`${REPORT_FILE}'s verdicts agree with the re-derived ones`] : [])] };
}
