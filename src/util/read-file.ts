/**
 * Reading a file the user names (a plan, a scenario) without letting it hang or exhaust us:
 * only a regular file is read (a FIFO would block forever, /dev/zero never ends), and at most
 * `maxBytes` of it. The file is opened non-blocking and checked on the open handle, so a path
 * swapped for a FIFO between a check and the read cannot slip through.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

export class NotRegularFileError extends Error {
  readonly code = 'ENOTREG';
  constructor(
    readonly path: string,
    readonly kind: string,
  ) {
    super(`is ${kind}, not a regular file`);
  }
}

export class TooLargeError extends Error {
  readonly code = 'EFBIG';
  constructor(
    readonly path: string,
    readonly size: number,
    readonly maxBytes: number,
  ) {
    super(`is ${size} bytes or more; the limit is ${maxBytes} bytes`);
  }
}

export function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean; isSymbolicLink(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The bytes of a regular file of at most maxBytes; NotRegularFileError / TooLargeError otherwise. */
export async function readRegularBytes(path: string, maxBytes: number): Promise<Buffer> {
  // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new NotRegularFileError(path, kindOf(st));
    if (st.size > maxBytes) throw new TooLargeError(path, st.size, maxBytes);
    // Read no more than the cap (+1 to notice a file that grew since stat).
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (!bytesRead) break;
      n += bytesRead;
      if (n >= buf.length) {
        if (n > maxBytes) throw new TooLargeError(path, n, maxBytes);
        break;
      }
    }
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

export async function readRegularFile(path: string, maxBytes: number): Promise<string> {
  return (await readRegularBytes(path, maxBytes)).toString('utf8');
}
