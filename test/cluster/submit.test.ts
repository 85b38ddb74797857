/**
 * Batch scripts and their submission, with a fake sbatch/squeue (a Runner that records calls): the
 * scripts ask for the warning signal and requeue and forward SIGTERM; phases are chained with
 * afterok; a missing sbatch, a refused submission, a folder still in the queue or planned with
 * another --tasks give one line; a rerun reports failed tasks and submits only what has not
 * finished. The script's SIGTERM path is run for real with bash (no Slurm needed).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderScript, shellWord, CPUS_FROM_SLURM, type JobScript, type SlurmResources } from '../../src/cluster/scripts.js';
import { parseJobId, shardIndex, writeAndSubmit, writeStatus, type CommandResult, type Runner } from '../../src/cluster/submit.js';
import { EnvironmentError, UsageError } from '../../src/errors.js';
import { tempDir } from '../train/fixtures.js';

const root = tempDir('submit');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const resources: SlurmResources = { cpusPerTask: 2, time: '01:30:00', partition: 'cpu', account: 'lab', sbatchArgs: ['--mem=4G'] };
const jobs: JobScript[] = [
  { name: 'tune', array: 3, about: ['tuning'], command: ['node', 'main.ts', 'slurm', 'task', 'tune', '--workers', CPUS_FROM_SLURM] },
  { name: 'stress', array: 3, about: ['stress'], command: ['node', 'main.ts', 'slurm', 'task', 'stress'] },
  { name: 'finish', about: ['merge'], command: ['node', 'main.ts', 'slurm', 'finish', '--spec', "it's here.ts"] },
];

/** A fake Slurm: sbatch hands out ids from 100 (or answers as `sbatch` says); squeue lists `queued`. */
function fakeSlurm(o: { sbatch?: (args: readonly string[]) => CommandResult; queued?: string[] } = {}) {
  const calls: { program: string; args: readonly string[] }[] = [];
  let next = 100;
  const runner: Runner = (program, args) => {
    calls.push({ program, args });
    if (program === 'squeue') return { status: 0, stdout: (o.queued ?? []).join('\n'), stderr: '' };
    if (program === 'sbatch') return o.sbatch ? o.sbatch(args) : { status: 0, stdout: `${next++}\n`, stderr: '' };
    return { status: 1, stdout: '', stderr: 'unexpected' };
  };
  return { runner, calls, sbatch: () => calls.filter((c) => c.program === 'sbatch').map((c) => c.args) };
}

const submit = (out: string, runner: Runner, extra: { tasks?: number; dryRun?: boolean } = {}) =>
  writeAndSubmit({ out, tasks: extra.tasks ?? 3, jobs, resources, workdir: '/repo', command: 'npm run sandbox -- slurm study', dryRun: extra.dryRun ?? false, runner });

describe('renderScript', () => {
  const text = renderScript(jobs[0]!, resources, '/repo dir', '/out/slurm/logs');
  it('asks for the array, resources, warning signal, requeue and an appended per-task log', () => {
    for (const line of [
      '#SBATCH --array=0-2',
      '#SBATCH --cpus-per-task=2',
      '#SBATCH --time=01:30:00',
      '#SBATCH --partition=cpu',
      '#SBATCH --account=lab',
      '#SBATCH --mem=4G',
      '#SBATCH --signal=B:TERM@120',
      '#SBATCH --requeue',
      '#SBATCH --open-mode=append',
      '#SBATCH --output=/out/slurm/logs/tune-%A_%a.out',
      "cd '/repo dir' || exit 1",
      'node main.ts slurm task tune --workers "${SLURM_CPUS_PER_TASK:-1}" &',
    ]) {
      expect(text.split('\n'), line).toContain(line);
    }
    expect(renderScript(jobs[2]!, resources, '/repo', '/l')).toContain('#SBATCH --output=/l/finish-%j.out');
    expect(renderScript(jobs[2]!, resources, '/repo', '/l')).not.toContain('--array');
  });

  it('quotes words for bash', () => {
    expect(shellWord("it's here.ts")).toBe(`'it'\\''s here.ts'`);
    expect(shellWord('/a/b-c_1.ts')).toBe('/a/b-c_1.ts');
  });

  it('on SIGTERM the script forwards it, waits for the work to stop, and exits with its status (no Slurm: no requeue)', async () => {
    const dir = join(root, 'sig');
    mkdirSync(dir, { recursive: true });
    const marker = join(dir, 'got-term');
    // The "sandbox": a node process that, on SIGTERM, writes a marker, then exits 130 a little later (as after a checkpoint).
    const job: JobScript = {
      name: 'tune',
      array: 1,
      about: [],
      command: [process.execPath, '-e', `process.on('SIGTERM', () => { require('fs').writeFileSync(${JSON.stringify(marker)}, 'x'); setTimeout(() => process.exit(130), 300); }); console.log('ready'); setInterval(() => {}, 1000);`],
    };
    const script = join(dir, 'job.sh');
    writeFileSync(script, renderScript(job, resources, dir, dir));
    const env = { ...process.env };
    delete env['SLURM_JOB_ID'];
    const child = spawn('bash', [script], { env });
    let out = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready') && !sent) {
        sent = true;
        // As soon as the work runs: the script sets its trap before starting it.
        setTimeout(() => child.kill('SIGTERM'), 0);
      }
    });
    const status = await new Promise<number | null>((r) => child.on('close', r));
    expect(existsSync(marker)).toBe(true);
    expect(out).toContain('SIGTERM: stopping after the current step');
    expect(status, out).toBe(130);
  });

  it('as an array task it then requeues itself by ARRAYID_TASK (not by its job id, which may be the whole array\'s) and exits 0', async () => {
    const dir = join(root, 'requeue');
    mkdirSync(join(dir, 'bin'), { recursive: true });
    // A fake scontrol on PATH that records its arguments.
    writeFileSync(join(dir, 'bin', 'scontrol'), `#!/bin/sh\necho "$@" > ${JSON.stringify(join(dir, 'scontrol.args'))}\n`, { mode: 0o755 });
    const job: JobScript = { name: 'stress', array: 2, about: [], command: [process.execPath, '-e', "process.on('SIGTERM', () => process.exit(130)); console.log('ready'); setInterval(() => {}, 1000);"] };
    const script = join(dir, 'job.sh');
    writeFileSync(script, renderScript(job, resources, dir, dir));
    const env = { ...process.env, PATH: `${join(dir, 'bin')}:${process.env['PATH']}`, SLURM_JOB_ID: '2', SLURM_ARRAY_JOB_ID: '2', SLURM_ARRAY_TASK_ID: '1' };
    const child = spawn('bash', [script], { env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      if (!out.includes('ready') && (out += d.toString()).includes('ready')) child.kill('SIGTERM');
    });
    const status = await new Promise<number | null>((r) => child.on('close', r));
    expect(readFileSync(join(dir, 'scontrol.args'), 'utf8').trim()).toBe('requeue 2_1');
    expect(status).toBe(0);
  });
});

describe('writeAndSubmit', () => {
  it('writes every script, submits the chain with afterok and records the ids', () => {
    const out = join(root, 'chain');
    const slurm = fakeSlurm();
    const s = submit(out, slurm.runner);
    expect(s.submitted).toEqual({ tune: '100', stress: '101', finish: '102' });
    expect(slurm.sbatch()).toEqual([
      ['--parsable', join(out, 'slurm', 'tune.sh')],
      ['--parsable', '--dependency=afterok:100', '--kill-on-invalid-dep=yes', join(out, 'slurm', 'stress.sh')],
      ['--parsable', '--dependency=afterok:101', '--kill-on-invalid-dep=yes', join(out, 'slurm', 'finish.sh')],
    ]);
    for (const j of jobs) expect(readFileSync(join(out, 'slurm', `${j.name}.sh`), 'utf8')).toMatch(/^#!\/bin\/bash/);
    expect(JSON.parse(readFileSync(join(out, 'slurm', 'jobs.json'), 'utf8'))).toMatchObject({ tasks: 3, jobs: { tune: '100', stress: '101', finish: '102' } });
  });

  it('a dry run writes the scripts and calls nothing', () => {
    const slurm = fakeSlurm();
    const s = submit(join(root, 'dry'), slurm.runner, { dryRun: true });
    expect(slurm.calls).toEqual([]);
    expect(s.scripts).toHaveLength(3);
    expect(existsSync(join(root, 'dry', 'slurm', 'jobs.json'))).toBe(false);
  });

  it('no sbatch: one EnvironmentError line saying so; a refusal: sbatch\'s reason and what was already submitted', () => {
    const missing: Runner = () => ({ status: null, stdout: '', stderr: '', missing: true });
    expect(() => submit(join(root, 'missing'), missing)).toThrow(EnvironmentError);
    expect(() => submit(join(root, 'missing2'), missing)).toThrow(/^sbatch not found/);
    let n = 0;
    const slurm = fakeSlurm({ sbatch: () => (n++ === 0 ? { status: 0, stdout: '7;cluster\n', stderr: '' } : { status: 1, stdout: '', stderr: 'sbatch: warning: --mem is ignored here\nsbatch: error: Batch job submission failed: Invalid account or account/partition combination specified\n' }) });
    expect(() => submit(join(root, 'refused'), slurm.runner)).toThrow(
      `sbatch refused ${join(root, 'refused', 'slurm', 'stress.sh')}: sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified (already submitted: tune 7; cancel them with scancel 7 before rerunning)`,
    );
  });

  it('a rerun: refused while the last jobs are queued; afterwards reports failures and submits only the unfinished phases', () => {
    const out = join(root, 'rerun');
    submit(out, fakeSlurm().runner);
    expect(() => submit(out, fakeSlurm({ queued: ['101', '55'] }).runner)).toThrow(/jobs 101 of the last submission .* still queued or running/);
    // The tuning array finished; stress task 1 failed.
    for (const i of [0, 1, 2]) writeStatus(out, 'tune', i, { state: 'done', job: `100_${i}`, log: `L${i}` });
    writeStatus(out, 'stress', 0, { state: 'done', job: '101_0', log: 'S0' });
    writeStatus(out, 'stress', 1, { state: 'failed', job: '101_1', log: '/out/slurm/logs/stress-101_1.out', line: 'out of memory' });
    const slurm = fakeSlurm();
    const s = submit(out, slurm.runner);
    expect(s.failures).toEqual(['stress-1 (job 101_1) failed: out of memory; log: /out/slurm/logs/stress-101_1.out']);
    expect(s.skipped).toEqual(['tune']);
    expect(slurm.sbatch().map((a) => a[a.length - 1])).toEqual([join(out, 'slurm', 'stress.sh'), join(out, 'slurm', 'finish.sh')]);
    expect(slurm.sbatch()[0]).not.toContain('--dependency=afterok:100');
  });

  it('another --tasks on a planned folder is refused with one line', () => {
    const out = join(root, 'tasks');
    submit(out, fakeSlurm().runner);
    expect(() => submit(out, fakeSlurm().runner, { tasks: 4 })).toThrow(new UsageError(`${out} was planned with --tasks 3; rerun with --tasks 3 (runs are shared out by task count), or use a new --out`));
  });
});

describe('shardIndex and parseJobId', () => {
  it('--index, else SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX; out of range or missing: one line', () => {
    expect(shardIndex('1', { SLURM_ARRAY_TASK_ID: '0' }, 2)).toBe(1);
    expect(shardIndex(undefined, { SLURM_ARRAY_TASK_ID: '0', JOB_COMPLETION_INDEX: '1' }, 2)).toBe(0);
    expect(shardIndex(undefined, { JOB_COMPLETION_INDEX: '1' }, 2)).toBe(1);
    expect(() => shardIndex(undefined, { JOB_COMPLETION_INDEX: '2' }, 2)).toThrow('JOB_COMPLETION_INDEX = "2": expected an integer in 0..1 (--tasks 2)');
    expect(() => shardIndex(undefined, {}, 2)).toThrow(/^no task index/);
  });

  it('reads ids with or without a cluster name, and nothing else', () => {
    expect(parseJobId('123\n')).toBe('123');
    expect(parseJobId('123;cluster')).toBe('123');
    expect(parseJobId('Submitted batch job 5')).toBeUndefined();
  });
});
