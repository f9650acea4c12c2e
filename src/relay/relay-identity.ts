// The relay's identity with its hub: enrolled once with the relay join token an admin made (the hub's CA
// pinned by its fingerprint, a key made here, a serving and a client certificate back), kept in the state
// directory (later starts need no token) and renewed with the client certificate before it runs out.

import { join } from 'node:path';
import { fetchPinnedCa } from '../agent/hub-client.ts';
import { renewalDue } from '../agent/identity.ts';
import { readJson, writeAtomic } from '../agent/state/local-state.ts';
import { decodeRelayJoinToken } from '../model/join-token.ts';
import type { RelayEnrolResponse } from '../model/relay-wire.ts';
import { HttpClient, type JsonResponse } from '../net/http-client.ts';
import { certificateInfo } from '../pki/certificate.ts';
import { createCsr } from '../pki/csr.ts';
import { generateKeyPair } from '../pki/keys.ts';

export interface RelayIdentity {
  hub: string;
  name: string;
  caPem: string;
  keyPem: string;
  /** presented to agents: issued by the fleet CA for the relay's names */
  serverCertPem: string;
  /** presented to the hub */
  clientCertPem: string;
}

export class RelayEnrolError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = 'RelayEnrolError';
    this.code = code;
  }
}

/**
 * The saved identity, or a new one enrolled with `joinToken` for the host names agents use. `hub`, when
 * given, is the hub's URL as the relay reaches it, in place of the one the token names.
 */
export async function relayIdentity(
  stateDir: string,
  joinToken: string | undefined,
  names: readonly string[],
  hub?: string,
): Promise<RelayIdentity> {
  const path = join(stateDir, 'identity.json');
  const saved = await readJson<RelayIdentity>(path);
  if (saved) return hub ? { ...saved, hub } : saved;
  const decoded = joinToken ? decodeRelayJoinToken(joinToken) : undefined;
  const enrolment = decoded && hub ? { ...decoded, hub } : decoded;
  if (!enrolment) {
    throw new RelayEnrolError(
      joinToken
        ? 'the relay join token is not valid'
        : 'this relay is not enrolled: give it a join token (outpost relay create)',
      'relay_token_invalid',
    );
  }
  const caPem = await fetchPinnedCa(enrolment.hub, enrolment.caSha256);
  const keys = generateKeyPair();
  const http = new HttpClient(enrolment.hub, { ca: caPem });
  try {
    const res = await http.request('POST', '/relay/v1/enrol', {
      body: {
        token: enrolment.token,
        csr: createCsr({ commonName: 'relay', keyPem: keys.privateKeyPem }),
        names,
      },
    });
    const issued = issuedOrRefused(res, 'enrolment');
    const identity: RelayIdentity = {
      hub: enrolment.hub,
      name: issued.name,
      caPem,
      keyPem: keys.privateKeyPem,
      serverCertPem: issued.serverCertPem,
      clientCertPem: issued.clientCertPem,
    };
    await writeAtomic(path, JSON.stringify(identity));
    return identity;
  } finally {
    http.close();
  }
}

function issuedOrRefused(res: JsonResponse, what: string): RelayEnrolResponse {
  if (res.status === 200) return res.body as RelayEnrolResponse;
  const err = (res.body as { error?: { code?: string; message?: string } })?.error;
  throw new RelayEnrolError(
    `${what} refused: ${err?.message ?? `HTTP ${res.status}`}`,
    err?.code ?? 'unknown',
  );
}

/** When the relay renews: at two thirds of its client certificate's life, as an agent does. */
export function relayRenewalDue(identity: RelayIdentity): Date {
  const { notBefore, notAfter } = certificateInfo(identity.clientCertPem);
  return renewalDue(notBefore, notAfter);
}

/** New certificates for a new key, asked for with the current client certificate, saved before use. */
export async function renewRelayIdentity(
  stateDir: string,
  identity: RelayIdentity,
  names: readonly string[],
): Promise<RelayIdentity> {
  const keys = generateKeyPair();
  const http = new HttpClient(identity.hub, {
    ca: identity.caPem,
    cert: identity.clientCertPem,
    key: identity.keyPem,
  });
  try {
    const res = await http.request('POST', '/relay/v1/renew', {
      body: { csr: createCsr({ commonName: 'relay', keyPem: keys.privateKeyPem }), names },
    });
    const issued = issuedOrRefused(res, 'renewal');
    const renewed: RelayIdentity = {
      ...identity,
      keyPem: keys.privateKeyPem,
      serverCertPem: issued.serverCertPem,
      clientCertPem: issued.clientCertPem,
    };
    await writeAtomic(join(stateDir, 'identity.json'), JSON.stringify(renewed));
    return renewed;
  } finally {
    http.close();
  }
}
