/**
 * Slack incoming-webhook notifier.
 *
 *   notify:
 *     targets:
 *       alerts:
 *         type: slack
 *         url: ${SLACK_WEBHOOK_URL}      # https://hooks.slack.com/services/T…/B…/… — a credential
 *         channel: critical-alerts       # optional, see below
 *         username: rollout              # optional, see below
 *         timeoutMs: 5000                # per attempt (default 5000)
 *
 * The webhook URL is a credential (anyone holding it can post to the channel): it is registered
 * as a secret and only its host ever appears in names, logs and errors.
 *
 * Payload (Slack's incoming-webhook JSON format):
 *   { "text": "<title>\n<text>",          // notification / fallback text
 *     "blocks": [ header(title), section(mrkdwn text), context(fields) ],
 *     "channel"?: "#critical-alerts", "username"?: "rollout" }
 * `channel` and `username` only take effect for legacy custom-integration webhooks; webhooks of
 * Slack apps always post to the channel chosen when the webhook was created (Slack ignores
 * the overrides). Text is escaped for Slack (& < > → entities) so it cannot ping or link.
 * Limits honoured: header ≤ 150 chars, section ≤ 3000, context element ≤ 2000.
 *
 * Answers: 200 "ok" is success. Errors are 4xx with a plain-text code — 400 invalid_payload,
 * 403 action_prohibited, 404 channel_not_found / no_service, 410 channel_is_archived — or 5xx
 * (rollup_error), or 429 when rate limited. Each becomes BackendError naming "slack" with the
 * status, the code and a hint. Delivery: at-least-once with one retry, see webhook.ts deliver().
 */
import { z } from 'zod';
import { httpUrl } from '../options.js';
import type { Notice, Notifier, NotifierFactory } from '../types.js';
import { redactDeep } from '../../util/redact.js';
import { deliver, hostOf, registerUrlSecret, warnIfPlainHttp } from './webhook.js';

export const options = z.strictObject({
  url: httpUrl('an http(s) URL (the Slack incoming-webhook URL)').describe('Incoming-webhook URL (a credential).'),
  channel: z.string().min(1).optional().describe('Channel override, e.g. critical-alerts (legacy webhooks only).'),
  username: z.string().min(1).optional().describe('Author name override (legacy webhooks only).'),
  timeoutMs: z.number().int().min(100).max(120_000).default(5_000).describe('Per-attempt timeout in ms (default 5000).'),
});
export type SlackOptions = z.output<typeof options>;

const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const CONTEXT_MAX = 2000;
const FALLBACK_MAX = 4000;

/** Slack's three control characters (mrkdwn and top-level text). */
export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

/** Clip after escaping without cutting an entity in half. */
function clipEscaped(s: string, max: number): string {
  const e = slackEscape(s);
  if ([...e].length <= max) return e;
  return clip(e, max).replace(/&[a-z]{0,3}…$/, '…');
}

/** Slack's incoming-webhook body for a notice. */
export function slackPayload(notice: Notice, o: Pick<SlackOptions, 'channel' | 'username'> = {}): Record<string, unknown> {
  const title = notice.title.trim() || notice.event;
  const blocks: Array<Record<string, unknown>> = [{ type: 'header', text: { type: 'plain_text', text: clip(title, HEADER_MAX), emoji: true } }];
  if (notice.text.trim()) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clipEscaped(notice.text, SECTION_MAX) } });
  const facts = Object.entries(notice.fields)
    .filter(([, v]) => v !== null && v !== '')
    .slice(0, 10)
    .map(([k, v]) => `${k}: ${String(v)}`);
  if (facts.length)
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: clipEscaped(`${notice.severity} · ${notice.event} · ${facts.join(' · ')}`, CONTEXT_MAX) }] });
  const body: Record<string, unknown> = { text: clipEscaped(notice.text.trim() ? `${title}\n${notice.text}` : title, FALLBACK_MAX), blocks };
  if (o.channel) body.channel = o.channel.startsWith('#') || /^[CGD][A-Z0-9]{6,}$/.test(o.channel) ? o.channel : `#${o.channel}`;
  if (o.username) body.username = o.username;
  return body;
}

/** What to do about Slack's error codes. */
function slackHint(status: number | undefined, message: string): string | undefined {
  const code = /\b(no_service|no_team|invalid_token|invalid_payload|invalid_blocks\w*|channel_not_found|channel_is_archived|action_prohibited|user_not_found|rate_limited|posting_to_general_channel_denied|too_many_attachments|no_text|missing_text\w*)\b/.exec(message)?.[1];
  switch (code) {
    case 'no_service':
    case 'no_team':
    case 'invalid_token':
      return 'The Slack webhook URL is wrong, revoked, or its app was removed: create a new incoming webhook and update the secret the plan reads it from.';
    case 'channel_not_found':
      return 'The channel does not exist or the webhook cannot post to it (app webhooks post only to the channel chosen when they were created).';
    case 'channel_is_archived':
      return 'The channel is archived: unarchive it or create a webhook for another channel.';
    case 'action_prohibited':
    case 'posting_to_general_channel_denied':
      return 'A workspace restriction stops this webhook from posting to that channel: ask a Slack admin.';
    case 'rate_limited':
      return 'Slack rate-limits incoming webhooks to about one message per second: send fewer notices (notify.events).';
    case 'user_not_found':
      return 'The message names a user Slack does not know.';
    case undefined:
      break;
    default:
      return 'Slack rejected the message format: this is a bug in rollout, please report it (with --debug output).';
  }
  if (status === 429) return 'Slack rate-limits incoming webhooks to about one message per second: send fewer notices (notify.events).';
  if (status !== undefined && status >= 500) return 'Slack had a problem; the notice was tried twice. Check https://slack-status.com if it persists.';
  if (status === undefined && /timed out/i.test(message)) return 'Slack did not answer in time (timeoutMs); the message may or may not have been posted.';
  return undefined;
}

export const create: NotifierFactory = (raw, ctx) => {
  const o = options.parse(raw);
  registerUrlSecret(o.url, { wholePath: true });
  warnIfPlainHttp('slack', o.url, ctx.log);
  const where = o.channel ? `#${o.channel.replace(/^#/, '')}` : hostOf(o.url);
  return {
    name: `slack (${where})`,
    async send(notice: Notice): Promise<void> {
      await deliver({
        backend: 'slack',
        event: notice.event,
        method: 'POST',
        url: o.url,
        body: slackPayload(redactDeep(notice), o),
        timeoutMs: o.timeoutMs,
        hintFor: slackHint,
      });
    },
  } satisfies Notifier;
};
