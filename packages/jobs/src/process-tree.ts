import type { ChildProcess } from 'node:child_process';

/**
 * Sends `signal` to the process group of `child` (started with `detached: true`, so it leads its
 * own group): the program and every process it started that stayed in the group. A group that is
 * already gone is not an error.
 */
export function signalProcessTree(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
