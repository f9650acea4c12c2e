// Agent releases at the hub: a tarball per version, stored by digest in chunks, accepted only when the
// release key signed it; agents download one by digest and check the signature again against the key
// they pinned, so the hub and its database are never trusted with what a site runs.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { type AgentRelease, releaseStatement, versionProblem } from '../../model/agent-release.ts';
import { OutpostError } from '../../model/errors.ts';
import type { AgentReleaseView } from '../../model/wire.ts';
import { releaseSignatureValid } from '../../pki/release-key.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import type { AgentReleaseTable, Db } from '../store/schema.ts';

/** Stored chunk size: a download holds one chunk in memory at a time. */
const chunkBytes = 1024 * 1024;

export interface ReleasePush {
  version: string;
  /** `sha256:<hex>` of the tarball, as the operator signed it */
  digest: string;
  /** base64 Ed25519 signature of the release statement */
  signature: string;
  image?: string;
  content: Buffer;
}

function releaseView(row: AgentReleaseTable): AgentReleaseView {
  return {
    version: row.version,
    digest: row.digest,
    size: Number(row.size),
    signature: row.signature,
    ...(row.image ? { image: row.image } : {}),
    createdAt: row.created_at,
    createdBy: row.created_by,
  };
}

/**
 * Stores a release after checking it end to end: the version is well-formed, the bytes have the digest
 * and the release key signed this very statement. Pushing the same release again changes nothing; a
 * version already stored with other content is a conflict (versions are immutable).
 */
export async function pushRelease(
  ctx: HubContext,
  actor: Actor,
  push: ReleasePush,
): Promise<{ release: AgentReleaseView; created: boolean }> {
  const key = ctx.config.releases.publicKey;
  if (!key)
    throw new OutpostError(
      'conflict',
      'this hub has no release key, so it takes no releases: start it with --release-key (outpost agent release keygen makes one)',
    );
  const bad = versionProblem(push.version);
  if (bad) throw new OutpostError('release_invalid', `version ${bad}`);
  const digest = `sha256:${createHash('sha256').update(push.content).digest('hex')}`;
  if (digest !== push.digest)
    throw new OutpostError(
      'release_invalid',
      `the upload's digest is ${digest}, not the ${push.digest} that was signed: the file changed on the way`,
    );
  const statement = releaseStatement({ ...push, size: push.content.length });
  if (!releaseSignatureValid(key, statement, push.signature))
    throw new OutpostError(
      'release_invalid',
      `the signature of release ${push.version} does not verify with this hub's release key`,
    );
  return ctx.store.db.transaction().execute(async (tx) => {
    const existing = await tx
      .selectFrom('agent_releases')
      .selectAll()
      .where((eb) => eb.or([eb('version', '=', push.version), eb('digest', '=', digest)]))
      .executeTakeFirst();
    if (existing) {
      if (
        existing.version === push.version &&
        existing.digest === digest &&
        existing.signature === push.signature
      )
        return { release: releaseView(existing), created: false };
      throw new OutpostError(
        'conflict',
        existing.version === push.version
          ? `release ${push.version} exists with other content (${existing.digest}); a version never changes`
          : `this tarball is release ${existing.version} already`,
      );
    }
    const row: AgentReleaseTable = {
      version: push.version,
      digest,
      size: push.content.length,
      image: push.image ?? null,
      signature: push.signature,
      created_at: ctx.now().toISOString(),
      created_by: actor.name,
    };
    await tx.insertInto('agent_releases').values(row).execute();
    for (let seq = 0; seq * chunkBytes < push.content.length; seq++) {
      await tx
        .insertInto('agent_release_chunks')
        .values({ digest, seq, data: push.content.subarray(seq * chunkBytes, (seq + 1) * chunkBytes) })
        .execute();
    }
    await audit(tx, ctx.now(), actor, 'agent.release.push', `agent-release/${push.version}`, {
      digest,
      size: row.size,
      ...(push.image ? { image: push.image } : {}),
    });
    return { release: releaseView(row), created: true };
  });
}

export async function listReleases(ctx: HubContext): Promise<AgentReleaseView[]> {
  const rows = await ctx.store.db
    .selectFrom('agent_releases')
    .selectAll()
    .orderBy('created_at', 'desc')
    .execute();
  return rows.map(releaseView);
}

export async function getRelease(ctx: HubContext, version: string): Promise<AgentReleaseView> {
  const row = await ctx.store.db
    .selectFrom('agent_releases')
    .selectAll()
    .where('version', '=', version)
    .executeTakeFirst();
  if (!row)
    throw new OutpostError(
      'not_found',
      `no agent release ${version} on this hub (outpost agent release push)`,
    );
  return releaseView(row);
}

/**
 * The release an AgentRelease object names must be stored here exactly as signed, or sites could not
 * download it; checked in the transaction that stores a revision of the agent bundle.
 */
export async function checkReleaseStored(
  tx: Db,
  release: Pick<AgentRelease, 'version' | 'digest' | 'signature' | 'size' | 'image'>,
): Promise<string | undefined> {
  const row = await tx
    .selectFrom('agent_releases')
    .selectAll()
    .where('version', '=', release.version)
    .executeTakeFirst();
  if (!row)
    return `agent release ${release.version} is not on this hub: push it first (outpost agent release push)`;
  if (
    row.digest !== release.digest ||
    row.signature !== release.signature ||
    Number(row.size) !== release.size ||
    (row.image ?? undefined) !== release.image
  )
    return `the AgentRelease does not match release ${release.version} as stored (digest ${row.digest})`;
  return undefined;
}

/** A stored release's bytes, read one chunk at a time; undefined when no release has that digest. */
export async function releaseContent(
  ctx: HubContext,
  digest: string,
): Promise<{ size: number; stream: Readable } | undefined> {
  const db = ctx.store.db;
  const row = await db
    .selectFrom('agent_releases')
    .select('size')
    .where('digest', '=', digest)
    .executeTakeFirst();
  if (!row) return undefined;
  async function* chunks() {
    for (let seq = 0; ; seq++) {
      const chunk = await db
        .selectFrom('agent_release_chunks')
        .select('data')
        .where('digest', '=', digest)
        .where('seq', '=', seq)
        .executeTakeFirst();
      if (!chunk) return;
      yield Buffer.from(chunk.data);
    }
  }
  return { size: Number(row.size), stream: Readable.from(chunks()) };
}
