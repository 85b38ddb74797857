/**
 * One writer per folder: a run or study folder in use holds a `.lock` file naming its holder
 * (pid, host, a per-lock token). A second process on the folder stops with one line naming that
 * pid; a lock whose process is gone (killed, crashed) is taken over. Threads of one process share
 * its pid, so the token tells a lock this process holds elsewhere from a leftover one.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { asOneLineError, EnvironmentError } from '../errors.js';
import { writeFileAtomic } from './run_files.js';

export const LOCK_FILE = '.lock';

interface LockRecord {
  readonly pid: number;
  readonly host: string;
  readonly token: string;
}

/** Locks this process holds, by token: a same-pid lock with one of these tokens is in use. */
const heldTokens = new Set<string>();

/** Another process holds the folder: exit status 1 (wait for it, or stop it). */
export class FolderInUse extends EnvironmentError {
  override name = 'FolderInUse';
}

export interface FolderLock {
  release(): void;
}

function readLock(path: string): LockRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockRecord>;
    return typeof r.pid === 'number' && typeof r.token === 'string' ? { pid: r.pid, host: String(r.host ?? ''), token: r.token } : undefined;
  } catch {
    return undefined; // unreadable or half-written: treated as stale
  }
}

/** Whether the lock's holder still runs. Another host's lock cannot be checked: assumed alive. */
function holderAlive(lock: LockRecord): boolean {
  if (lock.host !== hostname()) return true;
  if (lock.pid === process.pid) return heldTokens.has(lock.token);
  try {
    process.kill(lock.pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Take `dir`'s lock (the folder must exist) or throw FolderInUse naming the holder. `what` names
 * the folder in the message ("study folder", "run folder").
 */
export function lockFolder(dir: string, what = 'folder'): FolderLock {
  const path = join(dir, LOCK_FILE);
  const mine: LockRecord = { pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex') };
  const text = `${JSON.stringify(mine)}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
      return held(path, mine);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw asOneLineError(e, path);
    }
    const holder = readLock(path);
    if (holder && holderAlive(holder)) {
      const where = holder.host === hostname() ? `process ${holder.pid}` : `process ${holder.pid} on ${holder.host}`;
      throw new FolderInUse(`${dir}: this ${what} is in use by ${where} (lock file ${path}); wait for it to finish or stop it, then rerun`);
    }
    // Stale (its process is gone): replace it atomically, then check that ours won a race with
    // another process doing the same.
    writeFileAtomic(path, text, { tmpSuffix: mine.token });
    if (readLock(path)?.token === mine.token) return held(path, mine);
  }
  throw new FolderInUse(`${dir}: could not take the lock ${path} (other processes keep taking it); rerun`);
}

function held(path: string, mine: LockRecord): FolderLock {
  heldTokens.add(mine.token);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      heldTokens.delete(mine.token);
      // Only our own lock: a folder taken over meanwhile (we were presumed dead) keeps its new holder's.
      if (readLock(path)?.token === mine.token) rmSync(path, { force: true });
    },
  };
}
