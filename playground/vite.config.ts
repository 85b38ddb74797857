/**
 * Vite config of the browser playground (`npm run playground`, `npm run playground:build`).
 * Every `node:*` import of the shared modules resolves to one small stand-in
 * (src/playground/node_shim.ts): the worker imports modules that also hold file code the browser
 * never calls. The data files and tfjs's .wasm binaries are copied in by src/playground/build.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const PLAYGROUND_OUT = join(root, 'playground-dist');

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return null;
  }
}

const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

export default defineConfig({
  root: here,
  base: './',
  publicDir: join(root, 'playground-dist-assets'),
  resolve: {
    alias: [{ find: /^node:[a-z_]+$/, replacement: join(root, 'src', 'playground', 'node_shim.ts') }],
  },
  define: {
    __PLAYGROUND_VERSION__: JSON.stringify(version),
    __PLAYGROUND_COMMIT__: JSON.stringify(gitCommit()),
  },
  worker: { format: 'es' },
  build: {
    outDir: PLAYGROUND_OUT,
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
    target: 'es2022',
    rollupOptions: {
      // Build-speed notes from the bundler are not problems with the site.
      onwarn(warning, warn) {
        if (warning.code !== 'PLUGIN_TIMINGS') warn(warning);
      },
    },
  },
  preview: { host: '127.0.0.1', port: 4173 },
  server: { host: '127.0.0.1', port: 5173, fs: { allow: [root] } },
  logLevel: 'warn',
});
