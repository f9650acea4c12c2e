// A relay's batch of what its sites sent up, ingested as if each site had sent it: reports through the
// same group-committed intake (a replay by sequence number is ignored), telemetry by batch id, and the
// sites the relay heard from marked as heard from, through this relay. An item for a site outside the
// relay's scope is refused.

import type { RelayBatch, RelayBatchAck } from '../../model/relay-wire.ts';
import type { HubContext } from '../context.ts';
import { heardFrom } from '../status/connectivity.ts';
import { ingestTelemetry } from '../telemetry/ingest.ts';
import { noteRelayContact, noteRoutedSites, type Relay, sitesInScope } from './relays.ts';

export async function ingestRelayBatch(
  ctx: HubContext,
  relay: Relay,
  batch: RelayBatch,
): Promise<RelayBatchAck> {
  const ids = new Set([...batch.items.map((i) => i.siteId), ...batch.seen]);
  const sites = await sitesInScope(ctx, relay, [...ids]);
  // submitted together and in order, so one site's reports keep their order within one commit
  const outcomes = batch.items.map(async (item): Promise<RelayBatchAck['results'][number]> => {
    const site = sites.get(item.siteId);
    if (!site) {
      return {
        id: item.id,
        outcome: 'refused',
        reason: `site ${item.siteId} is not served by relay ${relay.name}`,
      };
    }
    const ack =
      item.kind === 'report'
        ? await ctx.reports.submit(site, item.report)
        : await ingestTelemetry(ctx, site, item.telemetry);
    return { id: item.id, outcome: ack.accepted ? 'stored' : 'replay' };
  });
  const results = await Promise.all(outcomes);
  // sites Stale only because this relay was silent come back with it, under its one relay_returned event
  const returned = await noteRelayContact(ctx, relay, batch.status);
  const heard: string[] = [];
  for (const id of batch.seen) {
    const site = sites.get(id);
    if (!site) continue;
    await heardFrom(ctx, site, returned ? relay.name : undefined);
    heard.push(id);
  }
  // stamped after the contacts, so a site comes through the relay until the hub hears from it directly
  await noteRoutedSites(ctx, relay, heard);
  return { results };
}
