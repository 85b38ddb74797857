/**
 * Errors that end a command with one line instead of a stack trace, and the exit status each
 * earns: 2 for a request the user can fix (bad flag, spec or output path), 1 for a fault of the
 * machine (full disk, no permission, a missing package). Node's file-system errors (`err.code`)
 * are translated here once, for the CLI and for the pool's worker threads alike.
 */

/** A request the user can fix (a bad flag, spec or path): exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Something wrong with the machine, not with the request: exit status 1. */
export class EnvironmentError extends Error {
  override name = 'EnvironmentError';
}

/** An output path that cannot hold results (a file, a virtual file system): exit status 2. */
export class OutputPathError extends Error {
  override name = 'OutputPathError';
}

interface FsErrorLike {
  code: string;
  path?: string;
  syscall?: string;
}

function isFsError(e: unknown): e is FsErrorLike {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' && /^E[A-Z]+$/.test((e as FsErrorLike).code);
}

const RERUN = 'rerun the same command to resume (finished runs and checkpoints are kept)';

/**
 * One line for a Node file-system error and the exit status it deserves, or undefined for errors
 * that are not the file system's (those are bugs and keep their stack).
 */
export function describeFsError(e: unknown, fallbackPath?: string): { line: string; status: 1 | 2 } | undefined {
  if (!isFsError(e)) return undefined;
  const path = e.path ?? fallbackPath ?? '(unknown path)';
  switch (e.code) {
    case 'ENOSPC':
      return { line: `${path}: no space left on the device; free some space, then ${RERUN}`, status: 1 };
    case 'EDQUOT':
      return { line: `${path}: disk quota exceeded; free some space, then ${RERUN}`, status: 1 };
    case 'EACCES':
    case 'EPERM':
      return { line: `${path}: permission denied; choose a folder you can write to (--out DIR)`, status: 1 };
    case 'EROFS':
      return { line: `${path}: read-only file system; choose a writable folder (--out DIR)`, status: 1 };
    case 'EIO':
      return { line: `${path}: input/output error from the device; check the disk, then ${RERUN}`, status: 1 };
    case 'EMFILE':
    case 'ENFILE':
      return { line: `${path}: too many open files; raise the limit (ulimit -n) and ${RERUN}`, status: 1 };
    case 'ENOTDIR':
    case 'EEXIST':
      return { line: `${path}: a file is in the way where a folder is needed; choose another --out folder`, status: 2 };
    case 'EISDIR':
      return { line: `${path}: is a folder where a file is needed; remove it or choose another --out folder`, status: 2 };
    case 'ENAMETOOLONG':
      return { line: `${path}: name too long; choose a shorter --out path`, status: 2 };
    case 'ENOENT':
      return { line: `${path}: no such file or folder (it may have been removed while running); ${RERUN}`, status: 1 };
    default:
      return { line: `${path}: ${e.code} during ${e.syscall ?? 'a file operation'}; check the folder, then ${RERUN}`, status: 1 };
  }
}

/** Keep only the first line of a message: a one-line error must stay one line. */
export function firstLine(message: string): string {
  return message.split('\n', 1)[0]!;
}

/** A Node file-system error as the one-line error class its exit status calls for (others unchanged). */
export function asOneLineError(e: unknown, fallbackPath?: string): unknown {
  const d = describeFsError(e, fallbackPath);
  if (!d) return e;
  return d.status === 1 ? new EnvironmentError(d.line) : new OutputPathError(d.line);
}
