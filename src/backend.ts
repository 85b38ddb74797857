/**
 * Backend choice, in one place (docs/references.md#tfjs-in-node). Order when nothing is requested: tfjs-node's
 * native `tensorflow` backend if the optional package loaded, else `wasm`, else `cpu`.
 * A request comes from a CLI flag (`--backend`) or the OPT_SANDBOX_BACKEND environment variable;
 * the flag wins.
 */
import { EnvironmentError, UsageError } from './errors.js';
import { registerGradients } from './ops.js';
import { tf } from './tf.js';

export const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
const BACKEND_ENV = 'OPT_SANDBOX_BACKEND';

export interface BackendChoice {
  readonly name: BackendName;
  /** Why this backend: "requested by --backend", "auto: tfjs-node not installed", ... */
  readonly reason: string;
}

let current: BackendChoice | undefined;

export function parseBackendName(value: string, source: string): BackendName {
  if ((BACKENDS as readonly string[]).includes(value)) return value as BackendName;
  throw new UsageError(`${source}: unknown backend "${value}"; expected one of ${BACKENDS.join(', ')}`);
}

async function loadTfjsNode(): Promise<boolean> {
  try {
    // Optional dependency: absent wherever its install could not download libtensorflow.
    const name = '@tensorflow/tfjs-node';
    await import(/* @vite-ignore */ name);
    return tf.findBackend('tensorflow') != null;
  } catch {
    return false;
  }
}

async function trySet(name: BackendName): Promise<boolean> {
  if (name === 'tensorflow' && !(await loadTfjsNode())) return false;
  try {
    return (await tf.setBackend(name)) && tf.getBackend() === name;
  } catch {
    return false;
  }
}

/**
 * Select and initialise the backend. Idempotent: a second call with no request (or the same one)
 * returns the first choice. `log` receives the one-line announcement, printed once per process.
 */
export async function initBackend(
  options: { requested?: string; env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<BackendChoice> {
  const env = options.env ?? process.env;
  let requested: BackendName | undefined;
  let source = '';
  if (options.requested !== undefined) {
    requested = parseBackendName(options.requested, '--backend');
    source = 'requested by --backend';
  } else if (env[BACKEND_ENV]) {
    requested = parseBackendName(env[BACKEND_ENV] as string, BACKEND_ENV);
    source = `requested by ${BACKEND_ENV}`;
  }
  if (current && (requested === undefined || requested === current.name)) return current;

  let choice: BackendChoice;
  if (requested) {
    if (!(await trySet(requested))) {
      const hint = requested === 'tensorflow' ? ' (is @tensorflow/tfjs-node installed?)' : '';
      // The request is the user's to change (another --backend, or none): a usage error.
      throw new UsageError(`backend "${requested}" (${source}) is not available${hint}`);
    }
    choice = { name: requested, reason: source };
  } else if (await trySet('tensorflow')) {
    choice = { name: 'tensorflow', reason: 'auto: tfjs-node loaded' };
  } else if (await trySet('wasm')) {
    choice = { name: 'wasm', reason: 'auto: tfjs-node not installed' };
  } else if (await trySet('cpu')) {
    choice = { name: 'cpu', reason: 'auto: tfjs-node and wasm unavailable' };
  } else {
    throw new EnvironmentError('no tfjs backend could be initialised (tried tensorflow, wasm, cpu)');
  }
  await tf.ready();
  registerGradients();
  if (!current || current.name !== choice.name) options.log?.(`backend: ${choice.name} (${choice.reason})`);
  current = choice;
  return choice;
}

/** The backend chosen by initBackend, for recording with results. */
export function currentBackend(): BackendChoice {
  if (!current) throw new Error('initBackend() has not been called');
  return current;
}
