// Regional relays: each relay's scope, whether the hub still hears it (or since when it is lost), the
// sites that come through it, and what it says of itself (agents connected, feed lag, outbox, drops).

import type { RelayView } from '../../../src/model/relay-wire.ts';
import { formatSelector } from '../../../src/select/labels.ts';
import { ago, count } from '../../../src/web/format.ts';
import { get } from '../api.ts';
import { Badge, ColumnHeads, Empty, Show, useData } from '../ui.tsx';

export function RelaysPage() {
  const relays = useData(() => get<{ items: RelayView[] }>('/relays'), []);
  const now = new Date();
  return (
    <section>
      <h1>Relays</h1>
      <Show loaded={relays} what="relays">
        {(r) =>
          r.items.length === 0 ? (
            <Empty>No relays. An admin makes one with `outpost relays create`.</Empty>
          ) : (
            <table>
              <ColumnHeads
                columns={[
                  'Relay',
                  'Sites it serves',
                  'Heard',
                  'Sites via',
                  'Connected',
                  'Feed lag',
                  'Outbox',
                  'Dropped',
                ]}
                numeric={['Sites via', 'Connected', 'Outbox', 'Dropped']}
              />
              <tbody>
                {r.items.map((relay) => (
                  <tr key={relay.name}>
                    <td>{relay.name}</td>
                    <td>{formatSelector(relay.selector)}</td>
                    <td>
                      {relay.revoked ? (
                        <Badge tone="idle">revoked</Badge>
                      ) : relay.lostSince ? (
                        <Badge tone="bad">lost {ago(relay.lostSince, now)}</Badge>
                      ) : (
                        ago(relay.lastSeen, now)
                      )}
                    </td>
                    <td class="num">{count(relay.sites)}</td>
                    <td class="num">{relay.status ? count(relay.status.connectedSites) : '-'}</td>
                    <td>{relay.status ? `${relay.status.feedLagSeconds.toFixed(1)} s` : '-'}</td>
                    <td class="num">{relay.status ? count(relay.status.outbox.pending) : '-'}</td>
                    <td class="num">{relay.status ? count(relay.status.outbox.dropped) : '-'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </section>
  );
}
