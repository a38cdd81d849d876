/** Which keys the schema allows at a given path: the source of "did you mean" for unknown keys. */
import type { z } from 'zod';

type Def = { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; element?: z.ZodType; valueType?: z.ZodType; options?: z.ZodType[]; in?: z.ZodType; out?: z.ZodType };
const def = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

function unwrap(s: z.ZodType): z.ZodType[] {
  const d = def(s);
  switch (d.type) {
    case 'optional':
    case 'default':
    case 'nullable':
    case 'readonly':
    case 'catch':
    case 'prefault':
      return unwrap(d.innerType!);
    case 'pipe':
      return unwrap(d.in!);
    case 'union':
      return d.options!.flatMap(unwrap);
    default:
      return [s];
  }
}

export function keysAt(schema: z.ZodType, path: (string | number | symbol)[]): Set<string> {
  let nodes = unwrap(schema);
  for (const seg of path) {
    const next: z.ZodType[] = [];
    for (const n of nodes) {
      const d = def(n);
      if (d.type === 'object' && typeof seg === 'string' && d.shape?.[seg]) next.push(...unwrap(d.shape[seg]));
      else if (d.type === 'array' && typeof seg === 'number') next.push(...unwrap(d.element!));
      else if (d.type === 'record' && typeof seg === 'string') next.push(...unwrap(d.valueType!));
    }
    nodes = next;
  }
  const keys = new Set<string>();
  for (const n of nodes) {
    const d = def(n);
    if (d.type === 'object') for (const k of Object.keys(d.shape ?? {})) keys.add(k);
  }
  return keys;
}
