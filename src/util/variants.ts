/**
 * Variant assignment, the same algorithm Unleash's SDKs use for strategy variants
 * (unleash-client `selectVariantDefinition` / `normalizedVariantValue`): MurmurHash3 x86 32-bit
 * of "groupId:stickinessValue" with seed 86028157, mod the total weight, plus 1; walk the
 * variants in order, adding weights, and take the first whose running total reaches that
 * number. Weights are Unleash's: integers summing to 1000. Percent splits (50/50,
 * 33.33/33.33/33.34) become those weights by largest remainder, so they add up exactly.
 */
import { normalizedValue } from './bucket.js';

export const VARIANT_SEED = 86028157;

/** A variant with an Unleash weight (an integer share of 1000). */
export interface VariantWeight {
  name: string;
  weight: number;
}

/**
 * Percent shares (summing to 100) → integer weights of 1000, sorted by name: Unleash stores a
 * strategy's variants sorted by name (`fixVariantWeights`), and the order decides who gets
 * which variant, so every backend uses that order.
 */
export function toWeights(shares: Array<{ name: string; percent: number }>): VariantWeight[] {
  return largestRemainder(shares).sort((a, b) => a.name.localeCompare(b.name));
}

function largestRemainder(shares: Array<{ name: string; percent: number }>): VariantWeight[] {
  const weights = distributeRemainder(shares.map((s) => s.percent * 10), 1000);
  return shares.map((s, i) => ({ name: s.name, weight: weights[i]! }));
}

/**
 * Largest remainder: real-valued parts (`raw`, summing to `total`) → integers summing to
 * `total`. Each part is rounded down, and the rounding remainder goes one by one to the largest
 * fractional parts (ties: the later part).
 */
export function distributeRemainder(raw: number[], total: number): number[] {
  const out = raw.map((r) => Math.floor(r + 1e-9));
  let left = total - out.reduce((s, w) => s + w, 0);
  const order = raw.map((r, i) => ({ i, frac: r - Math.floor(r + 1e-9) })).sort((a, b) => b.frac - a.frac || b.i - a.i);
  for (const { i } of order) {
    if (left <= 0) break;
    out[i]!++;
    left--;
  }
  return out;
}

/** The variant a user gets (null when every weight is 0). `key` is the stickiness value (the user id). */
export function selectVariant(groupId: string, key: string, variants: VariantWeight[]): string | null {
  const total = variants.reduce((s, v) => s + v.weight, 0);
  if (total <= 0) return null;
  const target = normalizedValue(key, groupId, total, VARIANT_SEED);
  let counter = 0;
  for (const v of variants) {
    if (v.weight === 0) continue;
    counter += v.weight;
    if (counter >= target) return v.name;
  }
  return null;
}
