/** Running the CLI inside a test: its exit status and what it printed (stdout lines joined, stderr lines). */
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

export async function cli(args: string[]): Promise<{ status: number; out: string; errors: string[] }> {
  const out: string[] = [];
  const errors: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.map(String).join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.map(String).join(' ')));
  const status = await main(args);
  vi.restoreAllMocks();
  return { status, out: out.join('\n'), errors };
}
