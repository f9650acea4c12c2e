// Sites' sealing public keys at the hub: set at registration and announced by each agent as it starts
// (so sites that registered before sealing existed get one too), and read by `outpost secret seal` for
// the sites a bundle is placed on. Public keys only: the hub never holds a way to open a sealed value.

import { OutpostError } from '../../model/errors.ts';
import type { SealingKeyAck, SealingKeys, SealingKeysQuery } from '../../model/sealing-wire.ts';
import { sealingKeyId } from '../../pki/sealing.ts';
import type { HubContext } from '../context.ts';
import type { AgentSite } from './sites.ts';

/** Records the key an authenticated site announces; a changed key is logged, since sealed values must follow. */
export async function announceSealingKey(
  ctx: HubContext,
  site: AgentSite,
  publicKey: string,
): Promise<SealingKeyAck> {
  const keyId = sealingKeyId(publicKey);
  const row = await ctx.store.db
    .selectFrom('sites')
    .select('sealing_key')
    .where('id', '=', site.id)
    .executeTakeFirstOrThrow();
  if (row.sealing_key === publicKey) return { keyId, changed: false };
  await ctx.store.db
    .updateTable('sites')
    .set({ sealing_key: publicKey, sealing_key_at: ctx.now().toISOString() })
    .where('id', '=', site.id)
    .execute();
  return { keyId, changed: true };
}

/** The sealing keys of the sites a bundle is placed on (targeted, rendered or not), or of named sites. */
export async function sealingKeys(ctx: HubContext, query: SealingKeysQuery): Promise<SealingKeys> {
  if ((query.bundle === undefined) === (query.site === undefined || query.site.length === 0))
    throw new OutpostError('request_invalid', 'give a bundle, or one or more sites, whose keys to read');
  const db = ctx.store.db;
  let namespace: string | null | undefined;
  let rows: Array<{ name: string; sealing_key: string | null }>;
  if (query.bundle !== undefined) {
    const bundle = await db
      .selectFrom('bundles')
      .select('namespace')
      .where('name', '=', query.bundle)
      .executeTakeFirst();
    if (!bundle) throw new OutpostError('not_found', `no bundle named ${query.bundle}`);
    namespace = bundle.namespace;
    rows = await db
      .selectFrom('deployments')
      .innerJoin('sites', 'sites.id', 'deployments.site_id')
      .select(['sites.name', 'sites.sealing_key'])
      .where('deployments.bundle', '=', query.bundle)
      .where('sites.lifecycle', '=', 'Active')
      .where((eb) =>
        eb.or([
          eb('deployments.desired_digest', 'is not', null),
          eb('deployments.render_error', 'is not', null),
        ]),
      )
      .orderBy('sites.name')
      .execute();
  } else {
    const names = [...new Set(query.site)];
    rows = await db
      .selectFrom('sites')
      .select(['name', 'sealing_key'])
      .where('name', 'in', names)
      .orderBy('name')
      .execute();
    const unknown = names.filter((n) => !rows.some((r) => r.name === n));
    if (unknown.length > 0) throw new OutpostError('not_found', `no site named ${unknown.join(', ')}`);
  }
  return {
    ...(namespace !== undefined ? { namespace } : {}),
    sites: rows
      .filter((r) => r.sealing_key !== null)
      .map((r) => ({ site: r.name, keyId: sealingKeyId(r.sealing_key!), publicKey: r.sealing_key! })),
    withoutKey: rows.filter((r) => r.sealing_key === null).map((r) => r.name),
  };
}
