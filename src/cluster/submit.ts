/**
 * Writing and submitting a chain of batch scripts: each job after the one before (`afterok`: a
 * phase starts only when every task of the previous one succeeded; `--kill-on-invalid-dep` cancels
 * the rest of the chain when one fails, instead of leaving it pending forever). Every command goes
 * through a `Runner`, so the tests drive this with a fake sbatch. What was submitted is kept in
 * DIR/slurm/jobs.json and each array task records its outcome in DIR/slurm/status/, so that
 * rerunning the same command reports failed tasks (job, log) and submits only the unfinished phases.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentError, firstLine, UsageError } from '../errors.js';
import { ensureDir, readJSON, writeJSONAtomic } from '../train/run_files.js';
import { renderScript, type JobScript, type SlurmResources } from './scripts.js';

export interface CommandResult {
  /** Exit status; null when the program could not start. */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The program is not installed (not on PATH). */
  readonly missing?: boolean;
}

export type Runner = (program: string, args: readonly string[]) => CommandResult;

/** Runs real programs. */
export const systemRunner: Runner = (program, args) => {
  const r = spawnSync(program, [...args], { encoding: 'utf8' });
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error.message) : ''), ...(code === 'ENOENT' ? { missing: true } : {}) };
};

export const SLURM_DIR = 'slurm';
export const JOBS_FILE = 'jobs.json';
export const STATUS_DIR = 'status';

export const slurmDir = (out: string) => join(out, SLURM_DIR);
export const logDir = (out: string) => join(out, SLURM_DIR, 'logs');
export const statusDir = (out: string) => join(out, SLURM_DIR, STATUS_DIR);

/** What the last submission into a folder was. */
export interface JobsRecord {
  /** The folder's plan: array size per phase. A rerun with another --tasks would split runs differently. */
  readonly tasks: number;
  readonly command: string;
  /** Job name → job id, in submission order. */
  readonly jobs: Readonly<Record<string, string>>;
}

/** One array task's (or the finish job's) outcome, written by the task itself. */
export interface TaskStatus {
  readonly state: 'done' | 'failed' | 'stopped';
  readonly job: string;
  readonly log: string;
  /** Failed: the error's one line. */
  readonly line?: string;
}

export const statusFile = (out: string, name: string, index?: number) => join(statusDir(out), `${name}${index !== undefined ? `-${index}` : ''}.json`);

export function writeStatus(out: string, name: string, index: number | undefined, status: TaskStatus): void {
  ensureDir(statusDir(out));
  writeJSONAtomic(statusFile(out, name, index), status);
}

function readStatus(path: string): TaskStatus | undefined {
  try {
    return readJSON<TaskStatus>(path);
  } catch {
    return undefined;
  }
}

/** The job's own id and log path as Slurm names them, from a task's environment. */
export function jobOfEnv(env: NodeJS.ProcessEnv, out: string, name: string): { job: string; log: string } {
  const arrayId = env['SLURM_ARRAY_JOB_ID'];
  const taskId = env['SLURM_ARRAY_TASK_ID'];
  if (arrayId && taskId !== undefined) return { job: `${arrayId}_${taskId}`, log: join(logDir(out), `${name}-${arrayId}_${taskId}.out`) };
  const id = env['SLURM_JOB_ID'];
  if (id) return { job: id, log: join(logDir(out), `${name}-${id}.out`) };
  const k8s = env['JOB_COMPLETION_INDEX'];
  return { job: k8s !== undefined ? `index ${k8s}` : `pid ${process.pid}`, log: '(this process\'s output)' };
}

/**
 * The 0-based shard index: `--index`, else Slurm's array task id, else the completion index of a
 * Kubernetes Indexed Job; checked against the task count. `countFrom` says where the count comes
 * from in the error (`slurm run-task` has one task per run, not a --tasks flag).
 */
export function shardIndex(flag: string | undefined, env: NodeJS.ProcessEnv, count: number, countFrom = `--tasks ${count}`): number {
  const [source, value] =
    flag !== undefined
      ? ['--index', flag]
      : env['SLURM_ARRAY_TASK_ID'] !== undefined
        ? ['SLURM_ARRAY_TASK_ID', env['SLURM_ARRAY_TASK_ID']]
        : env['JOB_COMPLETION_INDEX'] !== undefined
          ? ['JOB_COMPLETION_INDEX', env['JOB_COMPLETION_INDEX']]
          : [undefined, undefined];
  if (source === undefined || value === undefined) {
    throw new UsageError('no task index: give --index i, or run as a Slurm array task (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)');
  }
  const i = Number(value);
  if (!(/^\d+$/.test(value.trim()) && i < count)) throw new UsageError(`${source} = ${JSON.stringify(value)}: expected an integer in 0..${count - 1} (${countFrom})`);
  return i;
}

export interface Submission {
  readonly scripts: readonly { name: string; file: string }[];
  /** Job name → id of what was submitted now (empty on a dry run). */
  readonly submitted: Readonly<Record<string, string>>;
  /** Names of jobs left out because they had finished. */
  readonly skipped: readonly string[];
  /** One line per failed task of the last submission. */
  readonly failures: readonly string[];
}

/** Whether every task of `job` recorded success. */
function jobDone(out: string, job: JobScript): boolean {
  const n = job.array ?? 1;
  for (let i = 0; i < n; i++) {
    const s = readStatus(statusFile(out, job.name, job.array !== undefined ? i : undefined));
    if (s?.state !== 'done') return false;
  }
  return true;
}

/** The lines that name each failed (or stopped and not requeued) task of the last submission. */
export function failureLines(out: string): string[] {
  const dir = statusDir(out);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((f) => {
      const s = readStatus(join(dir, f));
      if (!s || s.state === 'done') return [];
      const what = f.replace(/\.json$/, '');
      return [`${what} (job ${s.job}) ${s.state === 'failed' ? `failed: ${s.line ?? 'see its log'}` : 'was stopped and not requeued'}; log: ${s.log}`];
    });
}

/** The job ids of the last submission still queued or running, from squeue's array job ids. */
function stillQueued(previous: JobsRecord, runner: Runner): string[] {
  const r = runner('squeue', ['--noheader', '--format=%F']);
  if (r.missing || r.status !== 0) return [];
  const live = new Set(r.stdout.split('\n').map((l) => l.trim()).filter(Boolean));
  return Object.values(previous.jobs).filter((id) => live.has(id));
}

/** sbatch's reason: its last line (after any warnings it prints first, the fatal one comes last). */
function reason(r: CommandResult): string {
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
  return firstLine(lines.find((l) => /fatal/i.test(l)) ?? lines.find((l) => /submission failed/i.test(l)) ?? lines[lines.length - 1] ?? `exit status ${r.status}`);
}

/** `123` or `123;cluster` (sbatch --parsable) → `123`. */
export function parseJobId(stdout: string): string | undefined {
  const id = stdout.trim().split('\n').pop()?.split(';')[0]?.trim();
  return id && /^\d+$/.test(id) ? id : undefined;
}

export interface SubmitOptions {
  readonly out: string;
  readonly tasks: number;
  readonly jobs: readonly JobScript[];
  readonly resources: SlurmResources;
  /** The project folder the scripts run in. */
  readonly workdir: string;
  /** The command line to print for resuming, and to record. */
  readonly command: string;
  readonly dryRun: boolean;
  readonly runner?: Runner;
}

/**
 * Write every job's script under DIR/slurm/ and (unless a dry run) submit the unfinished ones as a
 * chain. A folder whose last submission is still queued, or that was planned with another task
 * count, is refused with one line.
 */
export function writeAndSubmit(o: SubmitOptions): Submission {
  const runner = o.runner ?? systemRunner;
  const jobsPath = join(slurmDir(o.out), JOBS_FILE);
  const previous = existsSync(jobsPath) ? readJSON<JobsRecord>(jobsPath) : undefined;
  if (previous && previous.tasks !== o.tasks) {
    throw new UsageError(`${o.out} was planned with --tasks ${previous.tasks}; rerun with --tasks ${previous.tasks} (runs are shared out by task count), or use a new --out`);
  }
  ensureDir(logDir(o.out));
  const scripts = o.jobs.map((job) => {
    const file = join(slurmDir(o.out), `${job.name}.sh`);
    writeFileSync(file, renderScript(job, o.resources, o.workdir, logDir(o.out)), { mode: 0o755 });
    return { name: job.name, file };
  });
  const failures = failureLines(o.out);
  // Only a finished prefix of the chain is left out: a later job's inputs come from the earlier ones.
  const firstOpen = o.jobs.findIndex((j) => !jobDone(o.out, j));
  const skipped = (firstOpen < 0 ? o.jobs : o.jobs.slice(0, firstOpen)).map((j) => j.name);
  if (o.dryRun) return { scripts, submitted: {}, skipped, failures };
  if (previous && !o.dryRun) {
    const queued = stillQueued(previous, runner);
    if (queued.length > 0) {
      throw new EnvironmentError(`jobs ${queued.join(', ')} of the last submission into ${o.out} are still queued or running (squeue --jobs=${queued.join(',')}); wait for them or cancel them (scancel ${queued.join(' ')}), then rerun`);
    }
  }
  const submitted: Record<string, string> = {};
  let after: string | undefined;
  for (const [i, job] of o.jobs.entries()) {
    if (skipped.includes(job.name)) continue;
    const args = ['--parsable', ...(after ? [`--dependency=afterok:${after}`, '--kill-on-invalid-dep=yes'] : []), scripts[i]!.file];
    const r = runner('sbatch', args);
    const so_far = Object.entries(submitted).map(([n, id]) => `${n} ${id}`).join(', ');
    const partial = so_far ? ` (already submitted: ${so_far}; cancel them with scancel ${Object.values(submitted).join(' ')} before rerunning)` : '';
    if (r.missing) throw new EnvironmentError(`sbatch not found: this is not a Slurm submit host (the scripts are written under ${slurmDir(o.out)}; --dry-run only writes them)${partial}`);
    const id = r.status === 0 ? parseJobId(r.stdout) : undefined;
    if (!id) {
      throw new EnvironmentError(`sbatch refused ${scripts[i]!.file}: ${reason(r)}${partial}`);
    }
    submitted[job.name] = id;
    after = id;
    // Recorded after each job, so a refusal midway still leaves the ids of what runs.
    writeJSONAtomic(jobsPath, { tasks: o.tasks, command: o.command, jobs: { ...submitted } } satisfies JobsRecord);
  }
  return { scripts, submitted, skipped, failures };
}
