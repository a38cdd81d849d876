/**
 * The file store's failures as errors a user can act on. A state directory that is a regular
 * file, read-only, on a read-only or full file system would otherwise surface as a raw
 * ENOTDIR / EACCES from deep inside the store (exit 1, "internal error"). Here every store call
 * that fails with such a code becomes a StateWriteError (exit 8) naming the path and what to do.
 */
import { stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { RolloutError, StateError } from '../errors.js';

const FS_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ELOOP', 'ENAMETOOLONG', 'EMFILE', 'ENFILE', 'EIO']);

/** The state store could not write (or reach) its files: nothing was recorded. */
export class StateWriteError extends StateError {
  constructor(
    message: string,
    hint: string,
    readonly path: string,
    readonly code: string,
    cause?: unknown,
    /** The state directory. */
    readonly dir: string = path,
  ) {
    super(message, hint, cause);
    this.name = 'StateWriteError';
  }
}

const user = () => {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'this user');
  }
};

function why(code: string): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no space left (or quota exceeded)';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'EISDIR':
      return 'a directory is in the way';
    default:
      return code;
  }
}

/** An fs error from the store under `dir` as a StateWriteError; anything else unchanged. */
export function stateFsError(err: unknown, dir: string): unknown {
  if (err instanceof RolloutError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code;
  if (!code || !FS_CODES.has(code)) return err;
  const path = e.path ?? dir;
  const fix =
    code === 'EACCES' || code === 'EPERM'
      ? `Make ${dir} writable for ${user()} (e.g. \`chown -R ${user()} ${dir}\` or \`chmod -R u+rwX ${dir}\`)`
      : code === 'ENOSPC' || code === 'EDQUOT'
        ? `Free space on the file system of ${dir}`
        : code === 'EROFS'
          ? `Mount ${dir} writable`
          : `Check ${dir}: it must be a directory rollout can write`;
  return new StateWriteError(
    `cannot use the state directory ${dir}: ${why(code)} (${code}${path !== dir ? ` on ${path}` : ''})`,
    `${fix}, or point --state-dir (ROLLOUT_STATE_DIR) at a writable directory. Nothing was recorded by this command.`,
    path,
    code,
    err,
    dir,
  );
}

/** A state directory that exists but is not a directory (a regular file named .rollout …). */
export async function checkStateDir(dir: string): Promise<void> {
  let st;
  try {
    st = await stat(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return; // created on first write
    throw stateFsError(err, dir);
  }
  if (!st.isDirectory())
    throw new StateWriteError(
      `the state directory ${dir} is not a directory (it is ${st.isFile() ? 'a regular file' : 'not a directory'})`,
      `Move it aside (\`mv ${dir} ${dir}.bak\`), or point --state-dir (ROLLOUT_STATE_DIR) at a directory. rollout keeps its runs in a directory.`,
      dir,
      'ENOTDIR',
    );
}

/**
 * The store with every method's fs failures turned into StateWriteErrors. Properties and
 * `instanceof` are those of the store itself.
 */
export function guardStore<T extends object>(store: T, dir: string): T {
  return new Proxy(store, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        let out: unknown;
        try {
          out = (v as (...a: unknown[]) => unknown).apply(target, args);
        } catch (err) {
          throw stateFsError(err, dir);
        }
        return out instanceof Promise ? out.catch((err: unknown) => Promise.reject(stateFsError(err, dir))) : out;
      };
    },
  });
}
