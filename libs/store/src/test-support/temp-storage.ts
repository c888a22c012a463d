import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { openStorage, type Storage, type StorageSettings } from '../storage.js';

/**
 * A fresh data directory per test (or, with `perFile`, one for the whole file), removed
 * afterwards together with any storage opened on it. The data directory is `data` inside a
 * folder of the test's own (`root`), so that a test can check that nothing was written beside it.
 */
export function useTempStorage(
  lifetime: 'perTest' | 'perFile' = 'perTest',
  options: { memoryFilesystem?: boolean } = {},
): { open: (settings?: Partial<StorageSettings>) => Storage; dir: () => string; root: () => string } {
  // A test that asserts order at scale, not durability, may keep its files on tmpfs, where an
  // fsync costs nothing; they are real SQLite files all the same.
  const base = options.memoryFilesystem && fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  let root: string | undefined;
  const opened: Storage[] = [];
  (lifetime === 'perTest' ? afterEach : afterAll)(() => {
    for (const storage of opened.splice(0)) storage.close();
    if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
    root = undefined;
  });
  const currentRoot = () => (root ??= fs.mkdtempSync(path.join(base, 'jobkeep-store-')));
  const current = () => path.join(currentRoot(), 'data');
  return {
    root: currentRoot,
    dir: current,
    open(settings = {}) {
      const storage = openStorage({ dataDir: current(), ...settings });
      opened.push(storage);
      return storage;
    },
  };
}

/** Every file below `dir`, as paths relative to it. */
export function filesBelow(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

/** Expects `promise` to reject with a JobkeepError of `code`, and returns its message. */
export async function rejection(promise: Promise<unknown>, code: string): Promise<string> {
  try {
    await promise;
  } catch (error) {
    const { code: actual, message } = error as { code?: string; message: string };
    if (actual !== code) throw new Error(`expected ${code}, got ${String(actual)}: ${message}`, { cause: error });
    return message;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}
