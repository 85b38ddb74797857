/**
 * `npm run test:slurm`: the Slurm path against a real Slurm (docs/references.md#slurm). Starts a
 * single-node cluster from Debian's packages (munged, slurmctld, slurmd; a generated slurm.conf in a
 * temporary folder, on ports of its own), runs `slurm study --quick --tasks 2`, stops one running
 * stress task with SIGTERM the way the time-limit warning does (its script checkpoints and requeues
 * it), waits for the report job, and checks that the per-run summaries and REPORT.md equal an
 * unsharded `study --quick`, with every run done once. Tears everything down. Where Slurm cannot
 * start (not Linux, not root, packages missing) it prints one line and exits 0.
 *
 * Minutes long (two quick studies): run it alone, with `nice`.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { cpus, hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TASKS = 2;
/** Ports of this test's cluster, away from the defaults (6817/6818) a real Slurm on the host may use. */
const CTLD_PORT = 16817;
const SLURMD_PORT = 16818;
/** The whole test gives up after this long (two quick studies on a busy 2-core machine take ~10 min). */
const DEADLINE_MS = 45 * 60_000;

const started = Date.now();
const log = (line: string) => console.log(`[test:slurm ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);

function which(program: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = join(dir, program);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root (slurmd and munged need root here)';
  const missing = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scontrol', 'scancel'].filter((p) => !which(p));
  if (missing.length > 0) return `${missing.join(', ')} not installed (apt-get install slurm-wlm munge)`;
  return undefined;
}

function run(program: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return spawnSync(program, [...args], { encoding: 'utf8', env });
}

function must(program: string, args: readonly string[]): string {
  const r = run(program, args);
  if (r.status !== 0) throw new Error(`${program} ${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout || String(r.error)).trim()}`);
  return r.stdout;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything this test started, stopped in reverse order by pid (never by name). */
const cleanups: (() => void)[] = [];

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function killPidFile(file: string): void {
  const pid = readPid(file);
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

function startMunge(): void {
  if (run('sh', ['-c', 'munge -n | unmunge']).status === 0) {
    log('munged is already running; using it');
    return;
  }
  if (!existsSync('/etc/munge/munge.key')) {
    must('mungekey', ['-c']);
    must('chown', ['munge:munge', '/etc/munge/munge.key']);
    chmodSync('/etc/munge/munge.key', 0o400);
  }
  mkdirSync('/run/munge', { recursive: true });
  must('chown', ['munge:munge', '/run/munge']);
  must('runuser', ['-u', 'munge', '--', which('munged')!]);
  cleanups.push(() => killPidFile('/run/munge/munged.pid'));
  log('munged started');
}

function writeConf(dir: string): string {
  const node = hostname().split('.')[0]!;
  const memory = Math.min(4000, Math.floor(Number(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/)![1]) / 1024 / 2));
  for (const d of ['state', 'spool']) mkdirSync(join(dir, d), { recursive: true });
  const conf = join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=sandboxtest',
      `SlurmctldHost=${node}`,
      `SlurmctldPort=${CTLD_PORT}`,
      `SlurmdPort=${SLURMD_PORT}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'slurmd.log')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_CPU',
      'ReturnToService=2',
      'JobAcctGatherType=jobacct_gather/none',
      `NodeName=${node} CPUs=${cpus().length} RealMemory=${memory} State=UNKNOWN`,
      'PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP',
      '',
    ].join('\n'),
  );
  return conf;
}

async function startSlurm(dir: string): Promise<void> {
  const conf = writeConf(dir);
  process.env['SLURM_CONF'] = conf;
  must(which('slurmctld')!, ['-f', conf]);
  cleanups.push(() => killPidFile(join(dir, 'slurmctld.pid')));
  must(which('slurmd')!, ['-f', conf]);
  cleanups.push(() => killPidFile(join(dir, 'slurmd.pid')));
  for (let i = 0; i < 60; i++) {
    const state = run('sinfo', ['--noheader', '--format=%T']).stdout.trim();
    if (state === 'idle') {
      log(`slurm up (${cpus().length} CPUs, conf ${conf})`);
      return;
    }
    await sleep(500);
  }
  throw new Error(`the node did not become idle: sinfo says ${run('sinfo', ['--noheader']).stdout.trim()}; see ${dir}/slurmctld.log and slurmd.log`);
}

/** Run the sandbox to completion; its output goes to `logFile`. */
function sandbox(args: readonly string[], logFile: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const out = [] as Buffer[];
    const child = spawn('nice', ['-n', '10', process.execPath, '--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: process.env });
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => out.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      writeFileSync(logFile, Buffer.concat(out));
      resolvePromise(code ?? 1);
    });
  });
}

const queued = () =>
  run('squeue', ['--noheader', '--format=%i %T'])
    .stdout.split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no file)';
  }
}

const summaryCount = (dir: string) =>
  existsSync(dir) ? readdirSync(dir).filter((n) => existsSync(join(dir, n, 'summary.json'))).length : 0;

/** A summary without its timing fields (wall seconds, milliseconds), which differ run to run. */
function comparable(file: string): string {
  const drop = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(drop);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v as object)
          .filter(([k]) => k !== 'wallSeconds' && !/Ms$/.test(k))
          .map(([k, x]) => [k, drop(x)]),
      );
    }
    return v;
  };
  return JSON.stringify(drop(JSON.parse(readFileSync(file, 'utf8'))));
}

/** REPORT.md with the study's folder written as DIR, and without any line stating a wall time (neither differs in substance). */
const reportText = (dir: string) =>
  readFileSync(join(dir, 'REPORT.md'), 'utf8')
    .split(dir)
    .join('DIR')
    .split('\n')
    .filter((l) => !/wall[- ]?(time|clock|seconds)/i.test(l))
    .join('\n');

function workerSeconds(runsDir: string): number {
  return readdirSync(runsDir).reduce((a, n) => {
    const f = join(runsDir, n, 'summary.json');
    return a + (existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { wallSeconds: number }).wallSeconds : 0);
  }, 0);
}

async function main(): Promise<number> {
  const why = skipReason();
  if (why) {
    console.log(`test:slurm skipped: ${why}`);
    return 0;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'sandbox-slurm-'));
  let ok = false;
  try {
    startMunge();
    await startSlurm(tmp);
    const study = join(tmp, 'study');
    const submitLog = join(tmp, 'submit.log');
    const submitStatus = await sandbox(['slurm', 'study', '--quick', '--tasks', String(TASKS), '--out', study], submitLog);
    log(`slurm study: ${readFileSync(submitLog, 'utf8').trim().split('\n').join('\n    ')}`);
    if (submitStatus !== 0) throw new Error(`slurm study exited ${submitStatus}`);
    const jobs = JSON.parse(readFileSync(join(study, 'slurm', 'jobs.json'), 'utf8')) as { jobs: Record<string, string> };
    const stressId = jobs.jobs['stress']!;

    // Stop stress task 1 while it runs, once it has finished a run (so the requeued task has some to skip).
    const victim = `${stressId}_1`;
    let stopped = false;
    const slurmStarted = Date.now();
    for (;;) {
      if (Date.now() - started > DEADLINE_MS) throw new Error('timed out waiting for the jobs');
      const q = queued();
      if (!stopped && q.includes(`${victim} RUNNING`) && summaryCount(join(study, 'shards', 'stress-1', 'runs')) >= 1) {
        must('scancel', ['--batch', '--signal=TERM', victim]);
        stopped = true;
        log(`sent SIGTERM to the batch shell of ${victim}`);
      }
      if (q.length === 0) break;
      await sleep(1000);
    }
    const slurmSeconds = (Date.now() - slurmStarted) / 1000;
    log(`all jobs left the queue after ${slurmSeconds.toFixed(0)} s`);
    const finishLog = readdirSync(join(study, 'slurm', 'logs')).find((n) => n.startsWith('finish-'));
    if (!existsSync(join(study, 'REPORT.md'))) {
      throw new Error(`no REPORT.md; finish log:\n${finishLog ? tail(join(study, 'slurm', 'logs', finishLog)) : '(none)'}`);
    }
    if (!stopped) throw new Error(`stress task ${victim} was never seen running with a finished run; the stop-and-requeue path was not exercised`);
    const victimLog = join(study, 'slurm', 'logs', `stress-${stressId}_1.out`);
    const victimText = readFileSync(victimLog, 'utf8');
    for (const expected of ['SIGTERM: stopping after the current step', 'requeueing job', 'already complete']) {
      if (!victimText.includes(expected)) throw new Error(`${victimLog} lacks "${expected}":\n${tail(victimLog, 30)}`);
    }
    log(`${victim} stopped, requeued and resumed (its log: ${victimLog})`);

    const ref = join(tmp, 'ref');
    const refStarted = Date.now();
    if ((await sandbox(['study', '--quick', '--out', ref], join(tmp, 'ref.log'))) !== 0) throw new Error(`study --quick failed:\n${tail(join(tmp, 'ref.log'))}`);
    if ((await sandbox(['report', ref], join(tmp, 'ref-report.log'))) !== 0) throw new Error(`report failed:\n${tail(join(tmp, 'ref-report.log'))}`);
    log(`unsharded study --quick and its report took ${((Date.now() - refStarted) / 1000).toFixed(0)} s`);

    const refRuns = readdirSync(join(ref, 'runs')).sort();
    const slurmRuns = readdirSync(join(study, 'runs')).sort();
    if (JSON.stringify(refRuns) !== JSON.stringify(slurmRuns)) {
      throw new Error(`the run folders differ: ${refRuns.length} unsharded vs ${slurmRuns.length} merged`);
    }
    // Each run exactly once across the shards: no run folder in two shard folders.
    const seen = new Map<string, string>();
    for (const shard of readdirSync(join(study, 'shards'))) {
      for (const name of readdirSync(join(study, 'shards', shard, 'runs'))) {
        if (seen.has(name)) throw new Error(`run ${name} ran in both ${seen.get(name)} and ${shard}`);
        seen.set(name, shard);
      }
    }
    if (seen.size !== refRuns.length) throw new Error(`the shards hold ${seen.size} runs, the unsharded study ${refRuns.length}`);
    const differing = refRuns.filter((n) => comparable(join(ref, 'runs', n, 'summary.json')) !== comparable(join(study, 'runs', n, 'summary.json')));
    if (differing.length > 0) throw new Error(`${differing.length} summaries differ, e.g. ${differing[0]}`);
    if (reportText(ref) !== reportText(study)) {
      writeFileSync(join(tmp, 'a.md'), reportText(ref));
      writeFileSync(join(tmp, 'b.md'), reportText(study));
      throw new Error(`REPORT.md differs: diff ${join(tmp, 'a.md')} ${join(tmp, 'b.md')}`);
    }
    const [a, b] = [workerSeconds(join(ref, 'runs')), workerSeconds(join(study, 'runs'))];
    // Reported, not asserted: on a shared machine a run's wall time depends on the load. Doing each
    // run once is what is asserted above.
    log(`${refRuns.length} runs, each once; summaries and REPORT.md equal; worker time ${b.toFixed(0)} s on Slurm vs ${a.toFixed(0)} s unsharded (×${(b / a).toFixed(2)})`);
    ok = true;
    return 0;
  } finally {
    for (const [id] of queued().map((l) => l.split(' '))) run('scancel', [id!]);
    for (const c of cleanups.reverse()) c();
    if (ok) rmSync(tmp, { recursive: true, force: true });
    else console.error(`test:slurm: kept ${tmp} (logs under study/slurm/logs, slurmctld.log, slurmd.log)`);
    log(ok ? 'passed' : 'FAILED');
  }
}

// Stopped by hand (Ctrl-C) or by a time limit: tear the cluster down rather than leave slurmctld,
// slurmd and queued jobs running (a `finally` does not run when a signal ends the process).
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const [id] of queued().map((l) => l.split(' '))) run('scancel', [id!]);
    for (const c of cleanups.reverse()) c();
    console.error(`test:slurm: stopped by ${sig}; the cluster is torn down`);
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`test:slurm failed: ${(e as Error).message}`);
    process.exit(1);
  },
);
