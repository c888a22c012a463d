import fs from 'node:fs';
import path from 'node:path';

/** Bytes of a copied file per message: large enough to be cheap per byte, far below any message limit. */
export const COPY_CHUNK_BYTES = 256 * 1024;
/**
 * Where compacted copies and backups are made before they are streamed: inside the data
 * directory rather than os.tmpdir(), because a copy is as large as its database, the data
 * directory is the disk sized for databases while /tmp is often small or RAM-backed, and a copy
 * left behind by a crash is found (and removed at the next start, see removeAdminLeftovers)
 * instead of filling another disk unnoticed.
 */
export function adminTempRoot(dataDir: string): string {
  return path.join(dataDir, '.admin-tmp');
}

/** Removes copies a crashed server left behind. Call only while holding the data directory. */
export function removeAdminLeftovers(dataDir: string): void {
  fs.rmSync(adminTempRoot(dataDir), { recursive: true, force: true });
}

/**
 * One fresh directory per copy under `root`, and `root` itself only while a copy is under way:
 * a server that made copies leaves no trace of them in its data directory. Counting copies here
 * (one server holds the data directory, and the count changes only on its event loop) keeps one
 * copy's end from removing the root another has just made its directory in.
 */
export function copyDirectories(root: string) {
  let inUse = 0;
  return {
    make(): string {
      fs.mkdirSync(root, { recursive: true });
      const dir = fs.mkdtempSync(path.join(root, 'copy-'));
      inUse++;
      return dir;
    },
    async remove(dir: string): Promise<void> {
      try {
        await fs.promises.rm(dir, { recursive: true, force: true });
      } finally {
        if (--inUse === 0) removeEmptyDirectory(root);
      }
    },
  };
}

export type CopyDirectories = ReturnType<typeof copyDirectories>;

function removeEmptyDirectory(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch (error) {
    // Something else in it is not a copy of this server's: left for removeAdminLeftovers at the next start.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY') throw error;
  }
}

type CopyMessage = { part: { case: 'started'; value: { sourceBytes: bigint; copyBytes: bigint } } } | { part: { case: 'chunk'; value: Uint8Array } };

/**
 * Makes a copy of `file` in a fresh temporary directory, announces its size, then streams it in
 * chunks. The bridge pulls the next chunk only once grpc-js has room for it, so a slow caller
 * slows the reading down; a cancelled call stops the pulling (or the worker making the copy),
 * and the copy, finished or partial, is deleted whatever the outcome.
 */
export async function* streamCopy(
  copies: CopyDirectories,
  file: string,
  copy: (dest: string) => Promise<{ sourceBytes: number; copyBytes: number }>,
  signal: AbortSignal,
): AsyncGenerator<CopyMessage> {
  const dir = copies.make();
  try {
    const dest = path.join(dir, path.basename(file));
    const made = await copy(dest);
    if (signal.aborted) return;
    yield { part: { case: 'started', value: { sourceBytes: BigInt(made.sourceBytes), copyBytes: BigInt(made.copyBytes) } } };
    for await (const chunk of fs.createReadStream(dest, { highWaterMark: COPY_CHUNK_BYTES }) as AsyncIterable<Buffer>) {
      yield { part: { case: 'chunk', value: chunk } };
    }
  } finally {
    await copies.remove(dir);
  }
}
