import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Context } from './context.js';

export async function planJsonSchema(): Promise<Record<string, unknown>> {
  const { z } = await import('zod');
  const { plan } = await import('../plan/schema.js');
  const schema = z.toJSONSchema(plan, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://github.com/rollout/rollout/schema/plan.schema.json',
    title: 'rollout plan',
    description: 'A progressive feature-flag rollout plan for `rollout`. See docs/plan-format.md.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}

export default async function schema(c: Context, o: { out?: string }): Promise<number> {
  const text = JSON.stringify(await planJsonSchema(), null, 2) + '\n';
  if (o.out) {
    await writeFile(resolve(c.cwd, o.out), text);
    c.stderr(`wrote ${o.out}`);
  } else c.stdout(text);
  return 0;
}
