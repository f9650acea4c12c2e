// Live updates: the hub's event stream read with fetch() and a streaming parser, so the API token goes
// in the Authorization header. Reconnects with Last-Event-ID after a drop; pages re-read their data
// when `eventTick` moves.

import { signal } from '@preact/signals';
import type { EventView } from '../../src/model/wire.ts';
import { reconnectDelayMs, SseParser } from '../../src/net/sse.ts';
import { authHeaders, get } from './api.ts';

export const eventTick = signal(0);
export const liveState = signal<'connecting' | 'live' | 'reconnecting'>('connecting');
export const recentEvents = signal<EventView[]>([]);

export function startLive(signal_: AbortSignal): void {
  let lastId: string | undefined;
  let attempt = 0;
  const run = async () => {
    // start from the latest events, and stream on from exactly there, so nothing falls between
    try {
      const latest = await get<{ items: EventView[]; lastId: number }>('/events?limit=20');
      recentEvents.value = [...latest.items].reverse();
      lastId = String(latest.lastId);
    } catch {
      // the stream alone still works; it starts with the next event
    }
    while (!signal_.aborted) {
      try {
        const res = await fetch('/api/v1/events/stream', {
          headers: { ...authHeaders(), ...(lastId ? { 'last-event-id': lastId } : {}) },
          signal: signal_,
        });
        if (!res.ok || !res.body) throw new Error(`event stream: ${res.status}`);
        liveState.value = 'live';
        attempt = 0;
        const parser = new SseParser();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const events = parser.push(value);
          if (parser.lastEventId) lastId = parser.lastEventId;
          if (events.length === 0) continue;
          const parsed = events.flatMap((e) => {
            try {
              return [JSON.parse(e.data) as EventView];
            } catch {
              return [];
            }
          });
          recentEvents.value = [...parsed.reverse(), ...recentEvents.value].slice(0, 50);
          eventTick.value++;
        }
      } catch {
        if (signal_.aborted) return;
      }
      liveState.value = 'reconnecting';
      await new Promise((r) => setTimeout(r, reconnectDelayMs(attempt++, 1000)));
    }
  };
  void run();
}
