/**
 * The primary family of an analysis as primary.json (primary_format.ts): written beside REPORT.md in
 * a published bundle, so a reader can re-derive every verdict from the samples that entered the
 * tests (rederive.ts, `sandbox verify-bundle`) without the runs or this code's statistics.
 */
import { join } from 'node:path';
import { writeJSONAtomic } from '../train/run_files.js';
import { PRIMARY_FILE } from './bundle_files.js';
import { PRIMARY_FORMAT, PRIMARY_VERSION, type FileRow, type FileSamples, type PrimaryFile } from './primary_format.js';
import type { StudyResults } from './results.js';
import type { EndpointSamples, PrimaryOutcome, PrimaryResult } from './verdict.js';

function samplesOf(s: EndpointSamples): FileSamples {
  // Copied field by field: the observations are written as {time, event} whatever else they carry.
  return s.kind === 'values'
    ? { kind: 'values', treatment: [...s.treatment], baseline: [...s.baseline] }
    : {
        kind: 'survival',
        treatment: s.treatment.map((o) => ({ time: o.time, event: o.event })),
        baseline: s.baseline.map((o) => ({ time: o.time, event: o.event })),
      };
}

function rowOf(p: PrimaryResult, seed: number, multipliersUsed: readonly number[]): FileRow {
  if (p.unmeasured !== null) {
    // No test ran: the row states the rule's p = 1 and the Holm p it gave, nothing to draw again.
    return {
      endpoint: p.endpoint,
      unmeasured: p.unmeasured,
      multipliersUsed: [],
      test: { method: null, seed, permutations: null },
      samples: null,
      p: 1,
      observed: null,
      holmP: p.holmP,
      rejected: false,
      verdict: 'inconclusive',
    };
  }
  if (p.samples === null) throw new Error(`primary endpoint (${p.endpoint.subClaim}): measured, yet no samples`);
  return {
    endpoint: p.endpoint,
    unmeasured: null,
    multipliersUsed,
    test: { method: p.method, seed, permutations: p.permutations },
    samples: samplesOf(p.samples),
    p: p.p,
    observed: p.observed,
    holmP: p.holmP,
    rejected: p.rejected,
    verdict: p.verdict,
  };
}

/** primary.json's content for a primary outcome (null: the spec registered no family) and the study's two sides. */
export function primaryFileOf(o: PrimaryOutcome | null, sides: { readonly treatment: string; readonly baseline: string }): PrimaryFile {
  const d = o?.decision ?? null;
  return {
    format: PRIMARY_FORMAT,
    version: PRIMARY_VERSION,
    treatment: sides.treatment,
    baseline: sides.baseline,
    family: o ? o.family : null,
    unmeasured: (o?.unmeasured ?? []).map((u) => ({ subClaim: u.endpoint.subClaim, why: u.why })),
    decision: d && {
      alpha: d.alpha,
      rows: d.primary.map((p) => rowOf(p, d.seed, o!.multipliersUsed[p.endpoint.subClaim] ?? p.endpoint.multipliers)),
    },
  };
}

/** Write primary.json into `dir` (a bundle folder); returns its path. */
export function writePrimaryFile(dir: string, r: StudyResults): string {
  const path = join(dir, PRIMARY_FILE);
  writeJSONAtomic(path, primaryFileOf(r.primary, r.spec));
  return path;
}
