/**
 * Reading run files that may be damaged (a kill mid-write on a disk without atomic renames, a
 * truncated copy, a hand edit): a summary.json that is not a complete summary is reported as
 * damaged with its reason instead of crashing a table or, worse, feeding it wrong numbers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSummary } from './summary.js';
import { SUMMARY_FILE } from './run_files.js';

export type SummaryRead = { kind: 'absent' } | { kind: 'ok'; summary: RunSummary } | { kind: 'damaged'; reason: string };

const isNumberOrNull = (x: unknown) => x === null || typeof x === 'number';
const isCount = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** The reason `value` is not a RunSummary, or undefined when it is one. */
export function summaryProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const s = value as Record<string, unknown>;
  for (const k of ['experiment', 'optimizer', 'optimizerName', 'backend', 'configHash'] as const) {
    if (typeof s[k] !== 'string') return `"${k}" is not a string`;
  }
  for (const k of ['steps', 'plannedSteps'] as const) if (!isCount(s[k])) return `"${k}" is not a count`;
  if (typeof s['seed'] !== 'number' || !Number.isSafeInteger(s['seed'])) return '"seed" is not an integer';
  if (typeof s['lrScale'] !== 'number' || !(s['lrScale'] > 0)) return '"lrScale" is not a positive number';
  for (const k of ['finalLoss', 'minLoss', 'initialLoss', 'evalLoss'] as const) if (!isNumberOrNull(s[k])) return `"${k}" is not a number or null`;
  for (const k of ['initialEvalLoss', 'evalAcc'] as const) if (s[k] !== undefined && !isNumberOrNull(s[k])) return `"${k}" is not a number or null`;
  if (typeof s['diverged'] !== 'boolean' || typeof s['interrupted'] !== 'boolean') return '"diverged" or "interrupted" is not a boolean';
  if (s['divergedAtStep'] !== null && !isCount(s['divergedAtStep'])) return '"divergedAtStep" is not a step or null';
  if (typeof s['wallSeconds'] !== 'number' || !Number.isFinite(s['wallSeconds'])) return '"wallSeconds" is not a number';
  const spikes = s['spikes'];
  if (typeof spikes !== 'object' || spikes === null || Array.isArray(spikes) || !Object.values(spikes).every(isCount)) {
    return '"spikes" is not a map of counts';
  }
  if (typeof s['spikeDetails'] !== 'object' || s['spikeDetails'] === null) return '"spikeDetails" is missing';
  if ((s['steps'] as number) > (s['plannedSteps'] as number)) return '"steps" exceeds "plannedSteps"';
  return undefined;
}

export function readSummary(runDir: string): SummaryRead {
  const path = join(runDir, SUMMARY_FILE);
  if (!existsSync(path)) return { kind: 'absent' };
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return { kind: 'damaged', reason: 'not valid JSON (empty or truncated?)' };
  }
  const problem = summaryProblem(value);
  return problem ? { kind: 'damaged', reason: problem } : { kind: 'ok', summary: value as RunSummary };
}

/** The summary, or undefined when absent or damaged (then `warn` gets one line naming the file and what happens). */
export function loadSummary(runDir: string, warn: (line: string) => void, consequence: string): RunSummary | undefined {
  const r = readSummary(runDir);
  if (r.kind === 'damaged') warn(`${join(runDir, SUMMARY_FILE)} is damaged (${r.reason}); ${consequence}`);
  return r.kind === 'ok' ? r.summary : undefined;
}

/** Warnings go to stderr as one line each. */
export const warnToStderr = (line: string): void => console.error(`warning: ${line}`);
