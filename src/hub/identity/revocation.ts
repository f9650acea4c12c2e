// Revoking a token the hub issued (an API token, a bootstrap token): it stops working at once, revoking it
// again answers like an unknown id, and the audit log records who did it.

import { OutpostError } from '../../model/errors.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';

const revocable = {
  api_tokens: { noun: 'API token', action: 'api_token.revoke', target: 'api-token' },
  bootstrap_tokens: { noun: 'bootstrap token', action: 'bootstrap_token.revoke', target: 'bootstrap-token' },
} as const;

export async function revokeToken(
  ctx: HubContext,
  actor: Actor,
  table: keyof typeof revocable,
  id: string,
): Promise<void> {
  const { noun, action, target } = revocable[table];
  const now = ctx.now();
  await ctx.store.db.transaction().execute(async (tx) => {
    const r = await tx
      .updateTable(table)
      .set({ revoked_at: now.toISOString() })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new OutpostError('not_found', `no active ${noun} ${id}`);
    await audit(tx, now, actor, action, `${target}/${id}`);
  });
}
