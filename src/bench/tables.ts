/**
 * The benchmark's figures as text (one block of tables per backend, as `npm run bench` prints them)
 * and as JSON (with the machine they were measured on).
 */
import { cpus } from 'node:os';
import { tf } from '../tf.js';
import { renderTable } from '../text/table.js';
import { checkTargets, type BackendBench } from './bench.js';

/** One backend's tables: step times vs the FLOP model, the LMs' matmuls, precision, other figures; the targets on wasm. */
export function renderBackendBench(r: BackendBench): string {
  const out: string[] = [];
  out.push(`\n## ${r.backend}: matmul ${r.matmulGflops.toFixed(1)} GFLOP/s (${r.matmulShapes.map((s) => `${s.shape}: ${s.gflops.toFixed(1)}`).join(', ')})\n`);
  out.push(
    renderTable(
      ['model', 'optimizer', 'step ms (median)', 'q1–q3', 'FLOPs', 'matmul rate', 'efficiency'],
      r.cases.map((c) => [
        c.model,
        c.optimizer,
        c.stepMs.toFixed(2),
        `${c.spread.q1.toFixed(2)}–${c.spread.q3.toFixed(2)}`,
        `${(c.flops / 1e6).toFixed(1)} M`,
        `${c.rateGflops.toFixed(1)} GFLOP/s`,
        `${c.efficiency.toFixed(2)}×`,
      ]),
    ),
  );
  out.push('');
  out.push(
    renderTable(
      ['LM', 'matmuls/step', 'counted FLOPs', 'rate (all)', '2-D', 'batched (attention)', 'batched share', 'matmul time'],
      r.lmMatmuls.map((m) => [
        m.model,
        String(m.kernels),
        `${(m.countedFlops / 1e6).toFixed(1)} M`,
        `${m.gflops.toFixed(1)} GFLOP/s`,
        `${m.gflops2d.toFixed(1)}`,
        `${m.gflopsBatched.toFixed(1)}`,
        `${(100 * m.batchedShare).toFixed(0)}%`,
        `${m.matmulMs.toFixed(1)} ms`,
      ]),
    ),
  );
  out.push('');
  out.push(
    renderTable(
      ['model', 'optimizer', 'precision', 'step ms (median)', '÷ fp32 step'],
      r.precision.map((c) => ['mlp', c.optimizer, c.precision, c.stepMs.toFixed(2), `${c.overFp32.toFixed(2)}×`]),
    ),
  );
  out.push('');
  out.push(
    renderTable(
      ['figure', 'value'],
      [
        ...r.muonOverAdamw.map((m) => [`Muon/AdamW step (${m.model})`, `${m.measured.toFixed(2)} measured, ${m.flopModel.toFixed(2)} FLOP model`]),
        ['Newton–Schulz 784×256', `${r.nsGflops.toFixed(1)} GFLOP/s (${(100 * r.nsOverMatmul).toFixed(0)}% of matmul)`],
        ['tensor growth, 1000 steps', `${r.tensorGrowth} (${Object.entries(r.tensorGrowthByOptimizer).map(([k, v]) => `${k} ${v}`).join(', ')})`],
        ['tensor growth, LMs at tiny dims', Object.entries(r.lmTensorGrowth).map(([k, v]) => `${k} ${v}`).join(', ')],
        ...r.stateBytes.map((s) => [`state bytes ${s.optimizer}`, `${s.measured} measured, ${s.theory} theory`]),
        [
          'study throughput',
          `${r.throughput.workers1.toFixed(1)} runs/min (1 worker), ${r.throughput.workersAll.toFixed(1)} (${r.throughput.workers} workers); ` +
            `median of ${r.throughput.rounds} rounds of ${r.throughput.runs} runs × ${r.throughput.stepsPerRun} steps of ${r.throughput.tasks.join(', ')}`,
        ],
        ['bench time', `${r.seconds.toFixed(0)} s`],
      ],
    ),
  );
  if (r.backend === 'wasm') {
    out.push('\nTargets (wasm):\n');
    out.push(renderTable(['target', 'value', 'met'], checkTargets(r).map((t) => [t.target, t.value, t.pass ? 'yes' : 'NO'])));
  }
  return out.join('\n');
}

/** The machine the figures were measured on, for the JSON output. */
function machineInfo(): Record<string, unknown> {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, node: process.version, tfjs: tf.version.tfjs, platform: process.platform };
}

/** The JSON `bench --json FILE` writes. */
export function benchJson(results: readonly BackendBench[], quick: boolean): string {
  return `${JSON.stringify({ machine: machineInfo(), quick, backends: results }, null, 2)}\n`;
}
