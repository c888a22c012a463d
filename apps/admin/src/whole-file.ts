import fs from 'node:fs';
import path from 'node:path';
import { alreadyExists, notFound } from '@jobkeep/errors';

/**
 * Writes `dest` whole or not at all: `fill` writes a temporary file beside it (by any means:
 * chunks from a stream or lines), which is synced and given `dest`'s name only once `fill`
 * succeeded. An interrupted copy never leaves a file that looks like a database but is cut short.
 * Like the store's own copies, it never replaces an existing file: ALREADY_EXISTS.
 */
export async function writeWholeFile<T>(dest: string, fill: (temp: string) => Promise<T>): Promise<T> {
  if (fs.existsSync(dest)) throw alreadyExists(`${dest} already exists; a copy never overwrites a file`);
  if (!fs.existsSync(path.dirname(dest))) throw notFound(`the directory of ${dest} does not exist`);
  const temp = path.join(path.dirname(dest), `.${path.basename(dest)}.partial-${process.pid}`);
  await fs.promises.rm(temp, { force: true });
  try {
    const result = await fill(temp);
    const handle = await fs.promises.open(temp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    // link() fails when dest appeared meanwhile, where rename() would replace it.
    await fs.promises.link(temp, dest).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EEXIST' ? alreadyExists(`${dest} already exists; a copy never overwrites a file`) : error;
    });
    await fs.promises.rm(temp, { force: true });
    return result;
  } catch (error) {
    await fs.promises.rm(temp, { force: true });
    throw error;
  }
}
