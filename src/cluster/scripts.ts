/**
 * Slurm batch scripts (docs/references.md#slurm). An array task runs the sandbox in the background
 * and waits for it, so that the warning signal the script asks for (`--signal=B:TERM@120`: SIGTERM
 * to the batch shell two minutes before the time limit, or `scancel --batch --signal=TERM`) reaches
 * a shell that can forward it: the sandbox then stops after the current step of each run, keeping
 * a checkpoint, and the script requeues the task (`--requeue`), which resumes from those
 * checkpoints and skips finished runs.
 */

export interface SlurmResources {
  /** CPUs per array task; the task runs that many worker threads. */
  readonly cpusPerTask: number;
  /** Time limit per task, HH:MM:SS (or any form sbatch takes). */
  readonly time?: string;
  readonly partition?: string;
  readonly account?: string;
  /** Passed to sbatch as they are, one `#SBATCH` line each. */
  readonly sbatchArgs: readonly string[];
}

export interface JobScript {
  /** Short name: the phase (`tune`, `stress`, `arms`, `runs`) or `finish`. */
  readonly name: string;
  /** Array size; undefined for a single job. */
  readonly array?: number;
  /** Comment lines saying what the job does. */
  readonly about: readonly string[];
  /** The command, as its argv: one process, so the forwarded SIGTERM reaches the sandbox itself. */
  readonly command: readonly string[];
}

/** Seconds of warning before the time limit: enough for every run to finish its step and write a checkpoint. */
export const WARNING_SECONDS = 120;

/** Quote one word for bash; `$SLURM_...` references the script itself writes are kept live. */
export function shellWord(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  if (/^"\$\{[A-Z_]+:-[0-9]+\}"$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The value a task's `--workers` takes: its CPU allocation, read when the task starts. */
export const CPUS_FROM_SLURM = '"${SLURM_CPUS_PER_TASK:-1}"';

/** The log file of a job (`%A_%a`: array job id and task index; `%j`: the job id). */
export const logPattern = (logDir: string, job: JobScript) => `${logDir}/${job.name}-${job.array !== undefined ? '%A_%a' : '%j'}.out`;

/** The text of one batch script. `workdir`: the project folder the commands run in. */
export function renderScript(job: JobScript, r: SlurmResources, workdir: string, logDir: string): string {
  const header = [
    `--job-name=sandbox-${job.name}`,
    ...(job.array !== undefined ? [`--array=0-${job.array - 1}`] : []),
    `--cpus-per-task=${r.cpusPerTask}`,
    `--output=${logPattern(logDir, job)}`,
    // A requeued task appends to its log instead of erasing what the first attempt wrote.
    '--open-mode=append',
    `--signal=B:TERM@${WARNING_SECONDS}`,
    '--requeue',
    ...(r.time !== undefined ? [`--time=${r.time}`] : []),
    ...(r.partition !== undefined ? [`--partition=${r.partition}`] : []),
    ...(r.account !== undefined ? [`--account=${r.account}`] : []),
    ...r.sbatchArgs,
  ];
  return [
    '#!/bin/bash',
    ...header.map((h) => `#SBATCH ${h}`),
    ...job.about.map((a) => `# ${a}`),
    '# Written by `npm run sandbox -- slurm ...`; docs/cluster.md explains each job.',
    'set -u',
    `cd ${shellWord(workdir)} || exit 1`,
    'echo "[$(date -u +%FT%TZ)] ${SLURM_JOB_ID:-?} on $(hostname): start"',
    // In the background, so the trap below runs while the work goes on (bash defers traps during a foreground child).
    // The trap is set before the work starts, so a signal that comes early is not lost.
    'stopping=0',
    'child=',
    `trap 'stopping=1; echo "[$(date -u +%FT%TZ)] SIGTERM: stopping after the current step, keeping checkpoints"; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM`,
    `${job.command.map(shellWord).join(' ')} &`,
    'child=$!',
    '[ "$stopping" = 1 ] && kill -TERM "$child" 2>/dev/null',
    // `wait` returns early (status > 128) when the trap runs; wait again until the work has ended.
    'while :; do wait "$child"; status=$?; if [ "$status" -gt 128 ] && kill -0 "$child" 2>/dev/null; then continue; fi; break; done',
    'if [ "$stopping" = 1 ] && [ -n "${SLURM_JOB_ID:-}" ]; then',
    // An array task by its array name: one task's SLURM_JOB_ID can equal the array's id, which would requeue every task.
    '  self="${SLURM_JOB_ID}"; [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && self="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"',
    '  echo "[$(date -u +%FT%TZ)] requeueing job ${self}: it resumes from its checkpoints"',
    '  scontrol requeue "$self" && exit 0',
    'fi',
    'echo "[$(date -u +%FT%TZ)] ${SLURM_JOB_ID:-?}: exit status $status"',
    'exit "$status"',
    '',
  ].join('\n');
}
