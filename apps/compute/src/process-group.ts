import fs from 'node:fs';

/**
 * Process groups: an exec run is started as the leader of its own group (spawned detached), so
 * that stopping it reaches whatever it started too, and nothing of a stopped run lives on.
 */

/** Sends `signal` to every process of the group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: the group exists but is not ours to signal.
    if ((error as NodeJS.ErrnoException).code === 'EPERM') return signal === 0;
    throw error;
  }
}

/**
 * When the process started, in clock ticks since boot (field 22 of /proc/PID/stat): with the
 * pid, what tells a process apart from a later one that reuses its pid. Undefined where there is
 * no /proc (not Linux) or no such process.
 */
export function processStartTicks(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** This boot of this machine, where Linux says; pids recorded under another boot mean nothing. */
export function bootId(): string | undefined {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}
