/** `bench` (`npm run bench`): the benchmark, per available backend; tables on stdout, optionally JSON. */
import { Option } from 'commander';
import { renameSync, writeFileSync } from 'node:fs';
import { BACKENDS } from '../../backend.js';
import { loadBenchExperiments } from '../../bench/experiments.js';
import { benchJson, renderBackendBench } from '../../bench/tables.js';
import { flag, resolveBackends, withOptions, type BackendFlags } from '../flags.js';
import type { RegisterCommand } from '../session.js';

interface BenchFlags extends BackendFlags {
  quick?: boolean;
  json?: string;
}

async function benchCommand(flags: BenchFlags): Promise<0> {
  const { benchBackend } = await import('../../bench/bench.js');
  const backends = await resolveBackends(flags, BACKENDS, 'bench');
  const experiments = await loadBenchExperiments();
  const results = [];
  for (const b of backends) {
    const r = await benchBackend(b, { quick: flags.quick === true, experiments, log: (l) => console.error(l) });
    results.push(r);
    console.log(renderBackendBench(r));
  }
  if (flags.json) {
    writeFileSync(`${flags.json}.tmp`, benchJson(results, flags.quick === true));
    renameSync(`${flags.json}.tmp`, flags.json);
    console.error(`written: ${flags.json}`);
  }
  return 0;
}

export const registerBench: RegisterCommand = (program, exit) => {
  withOptions(
    program
      .command('bench')
      .description(
        'benchmark each available backend: matmul rate, step times vs the FLOP model (MLP, MoE, and the dense and MoE transformer LMs against the rate of their own matmuls), MLP step per precision preset vs fp32, Newton–Schulz, state bytes, tensor growth, throughput',
      ),
    flag.quick('fewer repetitions and shorter throughput runs; on cpu, no LM cases (≈ 4 min on wasm, 3.3 min on cpu)'),
    new Option('--json <file>', 'also write the figures as JSON'),
    flag.backend('only this backend'),
  ).action(async (flags: BenchFlags) => exit(await benchCommand(flags)));
};
