/**
 * Rollout windows (src/engine/windows.ts): allowed hours, blackouts, weekdays, overnight
 * windows, one-off dates, time zones (and their DST days), and the closed-stretch cache.
 */
import { describe, expect, it } from 'vitest';
import { isOpen, isOpenCached, nextOpen } from '../../src/engine/windows.js';
import type { Plan } from '../../src/plan/model.js';

type W = NonNullable<Plan['windows']>;
const w = (x: Partial<W>): W => ({ timezone: 'UTC', allow: [], blackout: [], ...x });
const at = (iso: string) => Date.parse(iso);
const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

describe('isOpen', () => {
  it('no windows: always open', () => {
    expect(isOpen(w({}), at('2025-03-03T03:00:00Z'))).toBe(true);
  });
  it('allowed hours: [from, to)', () => {
    const ws = w({ allow: [{ from: '09:00', to: '17:00' }] });
    expect(isOpen(ws, at('2025-03-03T08:59:59Z'))).toBe(false);
    expect(isOpen(ws, at('2025-03-03T09:00:00Z'))).toBe(true);
    expect(isOpen(ws, at('2025-03-03T16:59:59Z'))).toBe(true);
    expect(isOpen(ws, at('2025-03-03T17:00:00Z'))).toBe(false);
  });
  it('weekdays', () => {
    const ws = w({ allow: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }] });
    expect(isOpen(ws, at('2025-03-07T10:00:00Z'))).toBe(true); // Friday
    expect(isOpen(ws, at('2025-03-08T10:00:00Z'))).toBe(false); // Saturday
    expect(isOpen(ws, at('2025-03-09T10:00:00Z'))).toBe(false); // Sunday
  });
  it('overnight windows: the part after midnight belongs to the previous day', () => {
    const ws = w({ allow: [{ days: ['fri'], from: '22:00', to: '06:00' }] });
    expect(isOpen(ws, at('2025-03-07T23:00:00Z'))).toBe(true); // Fri 23:00
    expect(isOpen(ws, at('2025-03-08T05:00:00Z'))).toBe(true); // Sat 05:00, Friday's night
    expect(isOpen(ws, at('2025-03-08T07:00:00Z'))).toBe(false);
    expect(isOpen(ws, at('2025-03-07T05:00:00Z'))).toBe(false); // Fri 05:00 is Thursday's night
  });
  it('a blackout wins over an allowed window', () => {
    const ws = w({ allow: [{ from: '09:00', to: '17:00' }], blackout: [{ from: '12:00', to: '13:00' }] });
    expect(isOpen(ws, at('2025-03-03T12:30:00Z'))).toBe(false);
    expect(isOpen(ws, at('2025-03-03T13:00:00Z'))).toBe(true);
  });
  it('one-off blackout dates', () => {
    const ws = w({ timezone: 'Europe/Berlin', blackout: [{ start: '2025-12-24', end: '2025-12-27', name: 'holidays' }] });
    expect(isOpen(ws, at('2025-12-23T22:59:59Z'))).toBe(true); // 23:59:59 Berlin
    expect(isOpen(ws, at('2025-12-23T23:00:00Z'))).toBe(false); // 00:00 Berlin on the 24th
    expect(isOpen(ws, at('2025-12-26T22:59:59Z'))).toBe(false);
    expect(isOpen(ws, at('2025-12-26T23:00:00Z'))).toBe(true);
  });
  it('hours are local to the time zone', () => {
    const ws = w({ timezone: 'Asia/Tokyo', allow: [{ from: '09:00', to: '17:00' }] });
    expect(isOpen(ws, at('2025-03-03T00:00:00Z'))).toBe(true); // 09:00 JST
    expect(isOpen(ws, at('2025-03-03T08:00:00Z'))).toBe(false); // 17:00 JST
  });
});

describe('nextOpen', () => {
  it('is the instant itself when open, undefined without windows returns it too', () => {
    const ws = w({ allow: [{ from: '09:00', to: '17:00' }] });
    expect(nextOpen(ws, at('2025-03-03T10:00:00Z'))).toBe(at('2025-03-03T10:00:00Z'));
    expect(nextOpen(undefined, 42)).toBe(42);
  });
  it('the next opening: later today, tomorrow, after the weekend', () => {
    const ws = w({ allow: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }] });
    expect(iso(nextOpen(ws, at('2025-03-03T03:00:00Z')))).toBe('2025-03-03T09:00:00.000Z');
    expect(iso(nextOpen(ws, at('2025-03-03T18:00:00Z')))).toBe('2025-03-04T09:00:00.000Z');
    expect(iso(nextOpen(ws, at('2025-03-07T17:00:00Z')))).toBe('2025-03-10T09:00:00.000Z');
  });
  it('the end of a blackout, weekly or one-off', () => {
    expect(iso(nextOpen(w({ blackout: [{ from: '12:00', to: '13:30' }] }), at('2025-03-03T12:10:00Z')))).toBe('2025-03-03T13:30:00.000Z');
    expect(iso(nextOpen(w({ blackout: [{ start: '2025-03-03T10:00:00Z', end: '2025-03-05T06:00:00Z' }] }), at('2025-03-04T00:00:00Z')))).toBe('2025-03-05T06:00:00.000Z');
  });
  it('one-off allowed window in the future', () => {
    const ws = w({ allow: [{ start: '2025-04-01T08:00:00Z', end: '2025-04-01T12:00:00Z' }] });
    expect(iso(nextOpen(ws, at('2025-03-20T00:00:00Z')))).toBe('2025-04-01T08:00:00.000Z');
  });
  it('in a time zone', () => {
    const ws = w({ timezone: 'America/New_York', allow: [{ from: '09:00', to: '17:00' }] });
    expect(iso(nextOpen(ws, at('2025-03-03T08:00:00Z')))).toBe('2025-03-03T14:00:00.000Z'); // EST
    expect(iso(nextOpen(ws, at('2025-06-03T08:00:00Z')))).toBe('2025-06-03T13:00:00.000Z'); // EDT
  });
  it.each([
    // Europe/Berlin: 2025-03-30 02:00 → 03:00 (spring forward), 2025-10-26 03:00 → 02:00 (fall back)
    ['spring forward', '2025-03-30T05:00:00Z', '2025-03-30T07:00:00.000Z'], // 09:00 CEST
    ['fall back', '2025-10-26T05:00:00Z', '2025-10-26T08:00:00.000Z'], // 09:00 CET
  ])('local hours on a DST change day (%s)', (_, from, expected) => {
    const ws = w({ timezone: 'Europe/Berlin', allow: [{ from: '09:00', to: '17:00' }] });
    const open = nextOpen(ws, at(from));
    expect(iso(open)).toBe(expected);
    expect(isOpen(ws, open!)).toBe(true);
    expect(isOpen(ws, open! - 1)).toBe(false);
  });
  it('the cached closed stretch never hides an open instant (DST fall-back day)', () => {
    const ws = w({ timezone: 'Europe/Berlin', allow: [{ from: '09:00', to: '17:00' }] });
    nextOpen(ws, at('2025-10-26T05:00:00Z'));
    // 10:00 CET is open, whatever the cache holds
    expect(isOpenCached(ws, at('2025-10-26T09:00:00Z'))).toBe(true);
    expect(nextOpen(ws, at('2025-10-26T09:00:00Z'))).toBe(at('2025-10-26T09:00:00Z'));
  });
  it('the cache agrees with the uncached answer, minute by minute over a week', () => {
    const ws = w({
      timezone: 'America/New_York',
      allow: [{ days: ['mon', 'tue', 'wed', 'thu'], from: '09:00', to: '16:00' }, { days: ['sat'], from: '22:00', to: '02:00' }],
      blackout: [{ from: '12:00', to: '13:00' }, { start: '2025-03-05', end: '2025-03-06' }],
    });
    const start = at('2025-03-03T00:00:00Z');
    for (let t = start; t < start + 7 * 86400_000; t += 37 * 60_000) {
      const open = isOpen(ws, t);
      expect(isOpenCached(ws, t), iso(t)).toBe(open);
      const n = nextOpen(ws, t)!;
      expect(n, iso(t)).toBeGreaterThanOrEqual(t);
      expect(isOpen(ws, n), `${iso(t)} → ${iso(n)}`).toBe(true);
      if (!open) {
        // nothing open in between (sampled)
        for (let u = t; u < n; u += Math.max(60_000, Math.floor((n - t) / 20))) expect(isOpen(ws, u), `${iso(t)}: ${iso(u)} before ${iso(n)}`).toBe(false);
      }
    }
  });
  it('a one-off window far ahead is still found; undefined when nothing ever opens', () => {
    expect(iso(nextOpen(w({ allow: [{ start: '2030-01-01T00:00:00Z', end: '2030-01-02T00:00:00Z' }] }), at('2025-03-03T00:00:00Z')))).toBe('2030-01-01T00:00:00.000Z');
    expect(nextOpen(w({ allow: [{ start: '2020-01-01', end: '2020-01-02' }] }), at('2025-03-03T00:00:00Z'))).toBeUndefined();
  });
});
