/** `sample`: text from a trained language-model run's final checkpoint. */
import { Option } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { parsePositiveInt, parseSeeds } from '../args.js';
import { flag, resolveBackend, withOptions, type BackendFlags } from '../flags.js';
import type { RegisterCommand } from '../session.js';
import { restoredRunsNote } from '../../study/restore.js';

interface SampleFlags extends BackendFlags {
  length?: string;
  prompt?: string;
  temperature?: string;
  seed?: string;
}

function parseTemperature(v: string): number {
  const t = Number(v);
  if (v.trim() === '' || !Number.isFinite(t) || t < 0) throw new UsageError(`--temperature ${JSON.stringify(v)}: expected a number ≥ 0`);
  return t;
}

async function sampleCommand(dir: string, flags: SampleFlags): Promise<0> {
  const options = {
    ...(flags.length !== undefined ? { length: parsePositiveInt('--length', flags.length) } : {}),
    ...(flags.prompt !== undefined ? { prompt: flags.prompt } : {}),
    ...(flags.temperature !== undefined ? { temperature: parseTemperature(flags.temperature) } : {}),
    ...(flags.seed !== undefined ? { seed: parseSeeds(`${flags.seed},`)[0]! } : {}),
  };
  if (!existsSync(resolve(dir))) throw new UsageError(`${dir}: no such run folder`);
  const restored = restoredRunsNote(dir);
  if (restored) throw new UsageError(restored);
  await resolveBackend(flags);
  const { sampleText } = await import('../../train/sample.js');
  console.log(sampleText(resolve(dir), options));
  return 0;
}

export const registerSample: RegisterCommand = (program, exit) => {
  withOptions(
    program
      .command('sample')
      .description('print text from a trained language-model run (its final checkpoint): the prompt and its seeded continuation')
      .argument('<run-dir>', 'a run folder of an LM experiment (lm-brown, lm-moe), e.g. runs/<stamp>/lm-moe__muon__s0'),
    new Option('--length <n>', 'characters to generate (default 300)'),
    new Option('--prompt <text>', 'text to continue (default "The ")'),
    new Option('--temperature <t>', 'softmax temperature; 0 = always the most likely character (default 0.8)'),
    flag.seed('sampling seed (default 0)'),
    flag.backend(),
  ).action(async (dir: string, flags: SampleFlags) => exit(await sampleCommand(dir, flags)));
};
