/**
 * Option pieces every HTTP adapter shares, so they are spelled and checked the same way
 * everywhere: an http(s)-only URL, the one TLS opt-out, `insecureTls`, with its warning, and
 * the flag backends' timeout and retry budget.
 */
import { z } from 'zod';
import type { AdapterContext } from './types.js';

/** An http:// or https:// URL (no file:, ftp:, javascript: …). */
export const httpUrl = (what = 'an http(s) URL') => z.url({ protocol: /^https?$/, error: `must be ${what}` });

/** Skip TLS certificate verification: self-signed staging servers only; a warning is logged. */
export const insecureTls = z.boolean().default(false).describe('Skip TLS certificate verification (self-signed staging servers only; a warning is logged).');

/** Log the warning an opted-out adapter owes its user (once, when it is created). */
export function warnInsecureTls(ctx: Pick<AdapterContext, 'log'>, name: string, insecure: boolean): void {
  if (insecure) ctx.log(`WARNING: ${name}: TLS certificate verification is OFF (insecureTls: true); anyone on the network path can impersonate this server`);
}

/** Flag backends over HTTP: per-request timeout, ms. */
export const flagTimeoutMs = z.number().int().positive().max(300_000).default(10_000);

/** Flag backends over HTTP: total time for retrying safe calls after a 429/5xx/timeout, ms (0 = no retries). */
export const flagRetryBudgetMs = z.number().int().min(0).max(600_000).default(15_000);
