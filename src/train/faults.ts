/**
 * Test hooks for fault injection, read from the environment so they reach child processes and
 * pool worker threads: OPT_SANDBOX_FAULTS is a comma list of
 *   kill@K        SIGKILL this process right after step K's metrics line is written (a real kill -9)
 *   nan-grad@K    add NaN to one gradient at step K
 *   inf-grad@K    add +Infinity to one gradient at step K
 * each optionally followed by `:TEXT`, limiting it to runs whose folder path contains TEXT.
 * Unset in normal use; never part of a run's config or hash.
 */
export interface RunFaults {
  readonly killAtStep?: number;
  readonly corruptGradient?: { step: number; value: number };
}

export const FAULTS_ENV = 'OPT_SANDBOX_FAULTS';

/** The faults that apply to the run in `dir`; throws on a malformed entry (a test bug). */
export function faultsFor(dir: string, spec: string | undefined = process.env[FAULTS_ENV]): RunFaults {
  if (!spec) return {};
  let faults: RunFaults = {};
  for (const entry of spec.split(',').map((e) => e.trim()).filter(Boolean)) {
    const m = /^(kill|nan-grad|inf-grad)@(\d+)(?::(.+))?$/.exec(entry);
    if (!m) throw new Error(`${FAULTS_ENV}: bad entry ${JSON.stringify(entry)}; expected kill@K, nan-grad@K or inf-grad@K, optionally :TEXT`);
    if (m[3] !== undefined && !dir.includes(m[3])) continue;
    const step = Number(m[2]);
    if (m[1] === 'kill') faults = { ...faults, killAtStep: step };
    else faults = { ...faults, corruptGradient: { step, value: m[1] === 'nan-grad' ? NaN : Infinity } };
  }
  return faults;
}
