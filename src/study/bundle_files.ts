/**
 * The file names of a published results bundle (bundle.ts), apart so that the playground page can
 * pick them out of an opened folder without importing the analysis.
 */
export const BUNDLE_FILE = 'bundle.json';
export const BUNDLE_RUNS_FILE = 'runs.json.gz';
