/**
 * "1 seed", "3 seeds": a count with its noun, so no message prints "1 seeds" or "2 run".
 * Regular English plurals only (append "s"); an irregular noun passes its plural form.
 */
export function plural(n: number, word: string, pluralForm = `${word}s`): string {
  return `${n} ${n === 1 ? word : pluralForm}`;
}
