// Zero-touch registration and the site's identity lifecycle: a box calls home with a bootstrap token,
// its machine id and a CSR; it appears Pending (or Active when the token auto-approves) and gets a
// client certificate bound to its site id. Operators approve, reject or decommission; agents renew.

import { OutpostError } from '../../model/errors.ts';
import type { NewEvent } from '../../model/event.ts';
import { siteNameProblem } from '../../model/site.ts';
import type { CertificateResponse, RegisterRequest, RegisterResponse } from '../../model/wire.ts';
import { backdatedValidity, type IssuedCertificate, issueCertificate } from '../../pki/authority.ts';
import { verifyCsr } from '../../pki/csr.ts';
import { PkiError } from '../../pki/errors.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { HubContext } from '../context.ts';
import { hashSecret, newSecret, secretMatches } from '../credentials.ts';
import { consumeBootstrapToken } from '../identity/bootstrap-tokens.ts';
import { newId } from '../ids.ts';
import { placeSites } from '../placement/place.ts';
import {
  changeSites,
  derivedColumns,
  loadFacts,
  recordChanges,
  type SiteChange,
  siteFacts,
} from '../status/site-status.ts';
import { type Arg, preparedQuery } from '../store/prepared.ts';
import type { CertificateTable, Db, SiteTable } from '../store/schema.ts';
import { siteIdentityChanged } from './certificate-sites.ts';
import { RegistrationBatcher } from './registration-batcher.ts';
import { assertLabels, newSiteRow, type Site, siteByName } from './sites.ts';

export function siteUri(siteId: string): string {
  return `spiffe://outpost/site/${siteId}`;
}

function checkedCsr(csr: string) {
  try {
    return verifyCsr(csr);
  } catch (e) {
    if (e instanceof PkiError) throw new OutpostError('csr_invalid', (e as Error).message);
    throw e;
  }
}

/** A client certificate for the site from a verified public key, valid from a little before `now`. */
function siteCertificate(
  ctx: HubContext,
  siteId: string,
  publicKeyPem: string,
  now: Date,
): IssuedCertificate {
  return issueCertificate(ctx.tls.ca, {
    publicKeyPem,
    commonName: siteId,
    uris: [siteUri(siteId)],
    usage: 'client',
    ...backdatedValidity(now, ctx.config.certificateValidityDays * 86400_000),
  });
}

// every registration records one: compiled once (store/prepared.ts)
const insertCertificate = preparedQuery((db, arg: Arg<Pick<CertificateTable, keyof CertificateTable>>) =>
  db.insertInto('certificates').values({
    serial: arg('serial'),
    site_id: arg('site_id'),
    fingerprint: arg('fingerprint'),
    not_before: arg('not_before'),
    not_after: arg('not_after'),
    revoked_at: arg('revoked_at'),
  }),
);

/** Stores an issued certificate as the site's, so the hub accepts it. */
async function recordCertificate(
  tx: Db,
  siteId: string,
  issued: IssuedCertificate,
  now: Date,
): Promise<void> {
  await insertCertificate(tx, {
    serial: issued.serialHex,
    site_id: siteId,
    fingerprint: issued.fingerprintSha256,
    not_before: now.toISOString(),
    not_after: issued.notAfter.toISOString(),
    revoked_at: null,
  });
}

/**
 * Issues a client certificate for an existing site from a verified public key and records it; `alsoSet`
 * are columns of the site's row written by the same update.
 */
async function issueFor(
  ctx: HubContext,
  tx: Db,
  siteId: string,
  publicKeyPem: string,
  alsoSet: Partial<Pick<SiteTable, 'ticket_hash' | 'pending_csr' | 'issued_cert'>> = {},
): Promise<string> {
  const now = ctx.now();
  const issued = siteCertificate(ctx, siteId, publicKeyPem, now);
  await recordCertificate(tx, siteId, issued, now);
  await tx
    .updateTable('sites')
    .set({ ...alsoSet, cert_expires_at: issued.notAfter.toISOString() })
    .where('id', '=', siteId)
    .execute();
  return issued.certPem;
}

/** Every certificate the site still holds stops being accepted. */
async function revokeCertificates(tx: Db, siteId: string, now: Date): Promise<void> {
  await tx
    .updateTable('certificates')
    .set({ revoked_at: now.toISOString() })
    .where('site_id', '=', siteId)
    .where('revoked_at', 'is', null)
    .execute();
}

function propertiesFromFacts(req: RegisterRequest): Record<string, unknown> {
  const f = req.facts ?? {};
  const out: Record<string, unknown> = {};
  if (f.lat !== undefined) out.lat = f.lat;
  if (f.lon !== undefined) out.lon = f.lon;
  if (f.timezone !== undefined) out.timezone = f.timezone;
  return out;
}

function sealingKeyOf(req: RegisterRequest, now: Date): Pick<SiteTable, 'sealing_key' | 'sealing_key_at'> {
  return req.sealingKey
    ? { sealing_key: req.sealingKey, sealing_key_at: now.toISOString() }
    : { sealing_key: null, sealing_key_at: null };
}

// every registration looks its machine and its name up: compiled once (store/prepared.ts)
const siteOfMachine = preparedQuery((db, arg: Arg<{ machineId: string }>) =>
  db.selectFrom('sites').selectAll().where('machine_id', '=', arg('machineId')),
);
const siteNamed = preparedQuery((db, arg: Arg<{ name: string }>) =>
  db.selectFrom('sites').select('id').where('name', '=', arg('name')),
);

/**
 * What a registration leaves for its group to write once: the change to its site (for the aggregates
 * and transition events), whether the site's derived columns are already in its row, and its event.
 */
interface RegistrationRecord {
  change: SiteChange;
  derivedWritten: boolean;
  event: NewEvent;
}

/** Each hub context's registrations commit in groups (registration-batcher.ts). */
const batchers = new WeakMap<HubContext, RegistrationBatcher<RegistrationRecord>>();

function batcherOf(ctx: HubContext): RegistrationBatcher<RegistrationRecord> {
  let batcher = batchers.get(ctx);
  if (!batcher) {
    batcher = new RegistrationBatcher<RegistrationRecord>(
      (work) => ctx.store.db.transaction().execute(work),
      (tx, records) => recordRegistrations(ctx, tx, records),
      async (placed) => {
        // a machine registering again is an Active site with new labels and its old certificates revoked
        siteIdentityChanged(ctx, placed);
        ctx.events.notify();
        if (placed.length > 0) await placeSites(ctx, placed);
      },
    );
    batchers.set(ctx, batcher);
  }
  return batcher;
}

/**
 * The group's registrations in the aggregates and the event log: one upsert of the summed deltas and one
 * insert of the events, where each registration made its own before.
 */
async function recordRegistrations(ctx: HubContext, tx: Db, records: RegistrationRecord[]): Promise<void> {
  // new sites' rows already carry their derived columns; re-registered ones' are worked out here
  for (const derivedWritten of [true, false]) {
    const group = records.filter((r) => r.derivedWritten === derivedWritten);
    if (group.length === 0) continue;
    await recordChanges(
      ctx,
      tx,
      group.map((r) => r.change),
      group.map((r) => r.event),
      { derivedWritten },
    );
  }
}

export async function registerSite(
  ctx: HubContext,
  req: RegisterRequest,
  source: string,
): Promise<RegisterResponse> {
  const csr = checkedCsr(req.csr);
  assertLabels(req.labels);
  const wantedName = req.name ?? req.facts?.hostname?.split('.')[0]?.toLowerCase();
  if (wantedName !== undefined) {
    const problem = siteNameProblem(wantedName);
    if (problem) throw new OutpostError('request_invalid', `name "${wantedName}": ${problem}`);
  }
  return batcherOf(ctx).submit((tx) =>
    registerInTransaction(ctx, tx, req, csr.publicKeyPem, wantedName, source),
  );
}

/** Every column of a site's row, as newSiteRow fills them. */
const siteRowColumns = Object.keys(
  newSiteRow({ id: '', name: '', lifecycle: '', registered_at: '' }),
) as Array<keyof SiteTable>;

// a new site is one row written once: compiled once (store/prepared.ts)
const insertSite = preparedQuery((db, arg: Arg<Pick<SiteTable, keyof SiteTable>>) =>
  db
    .insertInto('sites')
    .values(
      Object.fromEntries(siteRowColumns.map((column) => [column, arg(column)])) as unknown as SiteTable,
    ),
);

type RegistrationOutcome = { result: RegisterResponse; placed?: string; record: RegistrationRecord };

/** One registration inside its group's transaction; an Active site is named for placement after commit. */
async function registerInTransaction(
  ctx: HubContext,
  tx: Db,
  req: RegisterRequest,
  publicKeyPem: string,
  wantedName: string | undefined,
  source: string,
): Promise<RegistrationOutcome> {
  const now = ctx.now();
  const grant = await consumeBootstrapToken(tx, now, req.token);
  const actor: Actor = { name: `bootstrap-token:${grant.tokenId}`, source };
  const {
    rows: [existing],
  } = await siteOfMachine(tx, { machineId: req.machineId });
  const lifecycle = grant.autoApprove || existing?.lifecycle === 'Active' ? 'Active' : 'Pending';
  const outcome = existing
    ? await registerAgain(ctx, tx, req, existing, grant.labels, lifecycle, publicKeyPem, now)
    : await registerNew(ctx, tx, req, grant.labels, lifecycle, publicKeyPem, wantedName, now);
  const { siteId, name } = outcome.result;
  await audit(tx, now, actor, 'site.register', `site/${name}`, {
    siteId,
    lifecycle,
    again: existing !== undefined,
  });
  return outcome;
}

function registeredEvent(name: string, lifecycle: string, again: boolean): NewEvent {
  return {
    type: 'registered',
    site: name,
    message: again ? `${name} registered again` : `${name} registered (${lifecycle})`,
    details: { again, lifecycle },
  };
}

/**
 * A machine the hub has not seen: its row is written once, with its certificate's expiry (or its
 * ticket) and the derived status columns, all known before the insert.
 */
async function registerNew(
  ctx: HubContext,
  tx: Db,
  req: RegisterRequest,
  grantedLabels: Record<string, string>,
  lifecycle: 'Active' | 'Pending',
  publicKeyPem: string,
  wantedName: string | undefined,
  now: Date,
): Promise<RegistrationOutcome> {
  const id = newId(now);
  const name = wantedName ?? `site-${id.slice(-12)}`;
  const {
    rows: [holder],
  } = await siteNamed(tx, { name });
  if (holder) {
    throw new OutpostError(
      'registration_refused',
      `site name ${name} belongs to another machine; register with another name`,
    );
  }
  const row = newSiteRow({
    id,
    name,
    labels: JSON.stringify({ ...req.labels, ...grantedLabels }),
    properties: JSON.stringify(propertiesFromFacts(req)),
    facts: JSON.stringify(req.facts ?? {}),
    lifecycle,
    registered_at: now.toISOString(),
    last_seen_at: now.toISOString(),
    machine_id: req.machineId,
    ...sealingKeyOf(req, now),
  });
  const issued = lifecycle === 'Active' ? siteCertificate(ctx, id, publicKeyPem, now) : undefined;
  const ticket = issued ? undefined : newSecret();
  if (issued) row.cert_expires_at = issued.notAfter.toISOString();
  else {
    row.ticket_hash = hashSecret(ticket!);
    row.pending_csr = req.csr;
  }
  // a new site has no deployments: its facts are its row's
  const after = siteFacts(row, []);
  Object.assign(row, derivedColumns(after));
  await insertSite(tx, row);
  const record: RegistrationRecord = {
    change: { siteId: id, before: undefined, after },
    derivedWritten: true,
    event: registeredEvent(name, lifecycle, false),
  };
  if (!issued) return { result: { siteId: id, name, lifecycle, ticket: ticket! }, record };
  await recordCertificate(tx, id, issued, now);
  return { result: { siteId: id, name, lifecycle, certificate: issued.certPem }, placed: id, record };
}

/** The same machine again (a reinstall or factory reset): the same site, never a duplicate. */
async function registerAgain(
  ctx: HubContext,
  tx: Db,
  req: RegisterRequest,
  existing: SiteTable,
  grantedLabels: Record<string, string>,
  lifecycle: 'Active' | 'Pending',
  publicKeyPem: string,
  now: Date,
): Promise<RegistrationOutcome> {
  const before = (await loadFacts(tx, [existing.id])).get(existing.id);
  const labels = { ...JSON.parse(existing.labels), ...grantedLabels };
  await tx
    .updateTable('sites')
    .set({
      labels: JSON.stringify(labels),
      facts: JSON.stringify(req.facts ?? {}),
      properties: JSON.stringify({ ...JSON.parse(existing.properties), ...propertiesFromFacts(req) }),
      lifecycle,
      last_seen_at: now.toISOString(),
      last_report_seq: 0,
      // the new install's agent counts its drops from 0 again, above what the old ones counted
      dropped_reports_before: existing.dropped_reports,
      connectivity: 'Online',
      connectivity_since: now.toISOString(),
      // a new install has a new sealing key (or none yet): the old one went with the wiped state
      ...sealingKeyOf(req, now),
    })
    .where('id', '=', existing.id)
    .execute();
  // Certificates of the previous install are retired: its keys are gone with the wiped state.
  await revokeCertificates(tx, existing.id, now);
  const after = (await loadFacts(tx, [existing.id])).get(existing.id);
  const record: RegistrationRecord = {
    change: { siteId: existing.id, before, after },
    derivedWritten: false,
    event: registeredEvent(existing.name, lifecycle, true),
  };
  const { id: siteId, name } = existing;
  if (lifecycle === 'Active') {
    const certificate = await issueFor(ctx, tx, siteId, publicKeyPem, {
      ticket_hash: null,
      pending_csr: null,
      issued_cert: null,
    });
    return { result: { siteId, name, lifecycle, certificate }, placed: siteId, record };
  }
  const ticket = newSecret();
  await tx
    .updateTable('sites')
    .set({ ticket_hash: hashSecret(ticket), pending_csr: req.csr, issued_cert: null })
    .where('id', '=', siteId)
    .execute();
  return { result: { siteId, name, lifecycle, ticket }, record };
}

/** A pending site collects its certificate with its ticket once approved (once). */
export async function collectCertificate(
  ctx: HubContext,
  siteId: string,
  ticket: string,
): Promise<CertificateResponse> {
  return ctx.store.db.transaction().execute(async (tx) => {
    const row = await tx.selectFrom('sites').selectAll().where('id', '=', siteId).executeTakeFirst();
    if (!row?.ticket_hash || !secretMatches(ticket, row.ticket_hash)) {
      throw new OutpostError('unauthorized', 'unknown registration ticket (rejected, or already collected)');
    }
    if (row.lifecycle === 'Pending') return { lifecycle: 'Pending' };
    if (row.lifecycle !== 'Active' || !row.issued_cert) {
      throw new OutpostError('forbidden', `site ${row.name} is ${row.lifecycle}`);
    }
    await tx
      .updateTable('sites')
      .set({ ticket_hash: null, issued_cert: null })
      .where('id', '=', siteId)
      .execute();
    return { lifecycle: 'Active', certificate: row.issued_cert };
  });
}

export async function approveSite(
  ctx: HubContext,
  actor: Actor,
  name: string,
  change: { name?: string; labels?: Record<string, string> },
): Promise<Site> {
  assertLabels(change.labels);
  if (change.name !== undefined) {
    const problem = siteNameProblem(change.name);
    if (problem) throw new OutpostError('request_invalid', `name "${change.name}": ${problem}`);
  }
  const site = await siteByName(ctx, name);
  if (site.lifecycle !== 'Pending')
    throw new OutpostError('conflict', `site ${name} is ${site.lifecycle}, not Pending`);
  const now = ctx.now();
  await changeSites(
    ctx,
    [site.id],
    async (tx) => {
      const row = await tx
        .selectFrom('sites')
        .selectAll()
        .where('id', '=', site.id)
        .executeTakeFirstOrThrow();
      if (change.name && change.name !== name) {
        const holder = await tx
          .selectFrom('sites')
          .select('id')
          .where('name', '=', change.name)
          .executeTakeFirst();
        if (holder) throw new OutpostError('conflict', `site name ${change.name} is taken`);
      }
      await tx
        .updateTable('sites')
        .set({
          lifecycle: 'Active',
          name: change.name ?? name,
          labels: JSON.stringify(change.labels ?? site.labels),
        })
        .where('id', '=', site.id)
        .execute();
      if (row.pending_csr) {
        const certificate = await issueFor(ctx, tx, site.id, checkedCsr(row.pending_csr).publicKeyPem);
        await tx
          .updateTable('sites')
          .set({ issued_cert: certificate, pending_csr: null })
          .where('id', '=', site.id)
          .execute();
      }
      await audit(tx, now, actor, 'site.approve', `site/${change.name ?? name}`, {
        siteId: site.id,
        labels: change.labels,
      });
    },
    [
      {
        type: 'approved',
        site: change.name ?? name,
        message: `${change.name ?? name} approved by ${actor.name}`,
        details: {},
      },
    ],
  );
  await placeSites(ctx, [site.id]);
  return siteByName(ctx, change.name ?? name);
}

export async function rejectSite(ctx: HubContext, actor: Actor, name: string): Promise<void> {
  const site = await siteByName(ctx, name);
  if (site.lifecycle !== 'Pending')
    throw new OutpostError('conflict', `site ${name} is ${site.lifecycle}, not Pending`);
  await changeSites(ctx, [site.id], async (tx) => {
    await tx.deleteFrom('sites').where('id', '=', site.id).execute();
    await audit(tx, ctx.now(), actor, 'site.reject', `site/${name}`, { siteId: site.id });
  });
}

/** Revokes every certificate of the site and marks it Decommissioned; its bundles are unplaced. */
export async function decommissionSite(ctx: HubContext, actor: Actor, name: string): Promise<Site> {
  const site = await siteByName(ctx, name);
  const now = ctx.now();
  await changeSites(ctx, [site.id], async (tx) => {
    await tx
      .updateTable('sites')
      .set({ lifecycle: 'Decommissioned', ticket_hash: null, issued_cert: null })
      .where('id', '=', site.id)
      .execute();
    await revokeCertificates(tx, site.id, now);
    await audit(tx, now, actor, 'site.decommission', `site/${name}`, { siteId: site.id });
  });
  siteIdentityChanged(ctx, [site.id]);
  await placeSites(ctx, [site.id]);
  return siteByName(ctx, name);
}

/**
 * A new certificate for an authenticated site; the current one stays valid until it expires. Its relay
 * (and the other replicas) hear of it at once: a relay refuses a serial its change feed has not listed.
 */
export async function renewCertificate(
  ctx: HubContext,
  site: Pick<Site, 'id'>,
  csrPem: string,
): Promise<string> {
  const csr = checkedCsr(csrPem);
  const certPem = await ctx.store.db
    .transaction()
    .execute((tx) => issueFor(ctx, tx, site.id, csr.publicKeyPem));
  siteIdentityChanged(ctx, [site.id]);
  return certPem;
}
