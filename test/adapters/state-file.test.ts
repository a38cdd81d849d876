/** The state store contract against the file store (the reference the PostgreSQL store matches). */
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../../src/state/file.js';
import { stateStoreContract } from './state-contract.js';

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');

async function allText(dir: string): Promise<string> {
  let out = '';
  let names: string[] = [];
  try {
    names = await readdir(dir, { recursive: true });
  } catch {
    return '';
  }
  for (const n of names) {
    try {
      out += (await readFile(join(dir, n), 'utf8')) + '\n';
    } catch {
      /* a directory */
    }
  }
  return out;
}

stateStoreContract('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rollout-state-'));
  const runDir = (id: string) => join(dir, 'runs', safeName(id));
  return {
    store: new FileStore(dir),
    peer: async () => new FileStore(dir),
    corrupt: async (id, how) => {
      const file = join(runDir(id), 'state.json');
      if (how === 'garbage') await writeFile(file, '{"schema": 1, "id": "tru');
      else if (how === 'v1') await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), schema: 1, waiting: undefined }));
      else await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), schema: 99 }));
    },
    raw: (id) => allText(runDir(id)),
    plantLock: async (kind, name, info) => {
      await mkdir(join(dir, 'locks'), { recursive: true });
      await writeFile(join(dir, 'locks', `${kind}-${safeName(name)}.lock`), JSON.stringify(info));
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
