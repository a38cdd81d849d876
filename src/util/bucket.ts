/**
 * Sticky bucketing, the same scheme Unleash's gradual rollout (flexibleRollout) uses:
 * MurmurHash3 x86 32-bit of "groupId:userId" with seed 0, mod 100, plus 1 → 1..100; a user is
 * in when that number ≤ the rollout percentage. Because the hash does not depend on the
 * percentage, a user who is in at 5% is still in at 25%.
 */
import murmur from 'murmurhash3js';

export function normalizedValue(id: string, groupId: string, normalizer = 100, seed = 0): number {
  const hash = murmur.x86.hash32(`${groupId}:${id}`, seed);
  return (hash % normalizer) + 1;
}

export function inRollout(id: string, groupId: string, percentage: number): boolean {
  if (percentage <= 0) return false;
  if (percentage >= 100) return true;
  return normalizedValue(id, groupId) <= percentage;
}
