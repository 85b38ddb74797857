/**
 * The file names of a published results bundle (bundle.ts), apart so that the playground page can
 * pick them out of an opened folder, and the re-derivation (rederive.ts) find them, without
 * importing the analysis.
 */
export const BUNDLE_FILE = 'bundle.json';
export const BUNDLE_RUNS_FILE = 'runs.json.gz';
/** The primary family with its samples, p's and verdicts (primary_format.ts), beside REPORT.md. */
export const PRIMARY_FILE = 'primary.json';
/** The report `report` writes into a study folder or a bundle. */
export const REPORT_FILE = 'REPORT.md';
/** A restored run's digest (digest.ts) in place of its per-step records (restore.ts). */
export const DIGEST_FILE = 'digest.json';
