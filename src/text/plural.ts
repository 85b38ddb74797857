/** Counts in prose: "1 worker", "2 workers", "1 seed", "0 runs". */

/** `n` and the noun, singular for exactly one; `many` for irregular plurals (default: noun + "s"). */
export function count(n: number, noun: string, many = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : many}`;
}
