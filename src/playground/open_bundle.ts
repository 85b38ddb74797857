/// <reference lib="dom" />
/**
 * A published results bundle (src/study/bundle.ts) as the page gets it: from a folder the visitor
 * picked, or from `?bundle=PATH` beside the page. The page hands its two files' text to the
 * worker, which analyses it as `npm run report` does; runs.json.gz is decompressed here by the
 * browser (DecompressionStream), since the worker's shared code would use Node's zlib.
 */
import { BUNDLE_FILE, BUNDLE_RUNS_FILE } from '../study/bundle_files.js';

export interface OpenedBundle {
  /** The folder's name or the path, for messages. */
  readonly name: string;
  /** bundle.json's text. */
  readonly header: string;
  /** runs.json.gz, decompressed. */
  readonly runs: string;
}

/** A gzip file's text, decompressed by the browser. */
const gunzipText = (blob: Blob) => new Response(blob.stream().pipeThrough(new DecompressionStream('gzip'))).text();

/** Decompress the runs file; a damaged one is one line naming it. */
async function opened(name: string, header: string, runs: () => Promise<Blob>): Promise<OpenedBundle | string> {
  try {
    return { name, header, runs: await gunzipText(await runs()) };
  } catch (e) {
    return `${name}/${BUNDLE_RUNS_FILE}: damaged (${(e as Error).message})`;
  }
}

/** The files of a picked folder (webkitdirectory), or the line saying it is not a bundle. */
export async function bundleFromFolder(files: readonly File[]): Promise<OpenedBundle | string> {
  // Only the folder's own files: its figures/ subfolder may hold anything.
  const top = (f: File) => (f.webkitRelativePath || f.name).split('/').length <= 2;
  const header = files.find((f) => top(f) && f.name === BUNDLE_FILE);
  const runs = files.find((f) => top(f) && f.name === BUNDLE_RUNS_FILE);
  if (!header || !runs) return `Not a results bundle (a bundle folder holds ${BUNDLE_FILE} and ${BUNDLE_RUNS_FILE})`;
  const name = (header.webkitRelativePath || header.name).split('/')[0] ?? 'bundle';
  return opened(name, await header.text(), async () => runs);
}

/** A bundle served beside the page: a relative path, so the page makes no request outside its site. */
export async function bundleFromUrl(path: string): Promise<OpenedBundle | string> {
  const get = async (file: string) => {
    const res = await fetch(`${path}/${file}`);
    if (!res.ok) throw new Error(`${path}/${file}: ${res.status} ${res.statusText}`);
    return res;
  };
  let header: string;
  try {
    header = await (await get(BUNDLE_FILE)).text();
  } catch (e) {
    return (e as Error).message;
  }
  return opened(path, header, async () => (await get(BUNDLE_RUNS_FILE)).blob());
}
