// The site's identity with its hub: registration with the join token (and the wait for an operator's
// approval), the client certificate kept in the state directory, and its renewal before it runs out.

import { hostname } from 'node:os';
import { backoffDelay, Wakeup } from '../base/timing.ts';
import { decodeJoinToken } from '../model/join-token.ts';
import type { Facts } from '../model/wire.ts';
import { certificateInfo } from '../pki/certificate.ts';
import { createCsr } from '../pki/csr.ts';
import { generateKeyPair } from '../pki/keys.ts';
import type { Cluster } from './apply/cluster.ts';
import { fetchPinnedCa, HubClient } from './hub-client.ts';
import { hostMachineId, newMachineId, renewalDue } from './identity.ts';
import type { Identity, LocalState } from './state/local-state.ts';
import { retryTransient } from './transient.ts';

export interface SiteIdentityOptions {
  state: LocalState;
  /** read for the facts the site registers with */
  cluster: Cluster;
  agentVersion: string;
  /** needed until registered: hub URL, hub CA fingerprint and bootstrap token */
  joinToken?: string;
  /** relay URLs to call first, instead of those the join token listed */
  relays?: string[];
  /** how long the site stays on a fallback before it tries its first relay again */
  relayRetryMs?: number;
  name?: string;
  machineId?: string;
  labels?: Record<string, string>;
  facts?: Facts;
  /** the site's sealing public key: sent at registration, and again at every start */
  sealingKey?: string;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export class SiteIdentity {
  readonly #opts: SiteIdentityOptions;
  #identity: Identity | undefined;
  #hub: HubClient | undefined;
  /** the periodic renewal's sleep: a rotation wakes it to reckon from the new certificate */
  readonly #renewalWait = new Wakeup();
  #announcing: Promise<void> | undefined;

  constructor(opts: SiteIdentityOptions) {
    this.#opts = opts;
  }

  #log(message: string, fields?: Record<string, unknown>): void {
    this.#opts.log?.(message, fields);
  }

  /** The site as the hub knows it, once registered and approved. */
  get identity(): Identity | undefined {
    return this.#identity;
  }

  /** The client that speaks to the hub as this site, once it holds a certificate. */
  get hub(): HubClient | undefined {
    return this.#hub;
  }

  /**
   * The saved identity, or a new one: registers with the join token and waits for approval. Returns
   * the client that speaks as the site, or undefined when `signal` aborted first.
   */
  async establish(signal: AbortSignal): Promise<HubClient | undefined> {
    const identity = await this.#loadOrRegister(signal);
    if (!identity) return undefined;
    this.#identity = identity;
    const relays = this.#opts.relays ?? identity.relays ?? [];
    this.#hub = new HubClient(identity.hub, identity.caPem, identity, identity.siteId, {
      relays,
      relayRetryMs: this.#opts.relayRetryMs,
      log: this.#opts.log,
    });
    if (relays.length > 0) this.#log('calling through relays first', { relays, fallback: identity.hub });
    // in the background: a hub out of reach must not hold up polling and reporting behind it
    this.#announcing = this.#announceSealingKey(this.#hub, signal);
    return this.#hub;
  }

  /**
   * Sends the sealing key on every start, so a site registered before sealing existed gets one to the hub
   * too. Secrets wait for it, the rest does not: a hub that cannot take it now is asked at the next start.
   */
  async #announceSealingKey(hub: HubClient, signal: AbortSignal): Promise<void> {
    const key = this.#opts.sealingKey;
    if (!key) return;
    try {
      const ack = await retryTransient(
        'announcing the sealing key',
        signal,
        () => hub.announceSealingKey(key),
        this.#opts.log,
      );
      if (ack?.changed) this.#log('sealing key sent to the hub', { keyId: ack.keyId });
    } catch (e) {
      this.#log('the hub did not take the sealing key', { error: (e as Error).message });
    }
  }

  async #loadOrRegister(signal: AbortSignal): Promise<Identity | undefined> {
    const state = this.#opts.state;
    const saved = await state.identity();
    if (saved) return saved;
    let pending = await state.pending();
    if (!pending) {
      const join = this.#opts.joinToken ? decodeJoinToken(this.#opts.joinToken) : undefined;
      if (!join) {
        throw new Error(
          this.#opts.joinToken
            ? 'the join token is not valid'
            : 'this agent is not registered: give it a join token (outpost token create)',
        );
      }
      const caPem = await retryTransient(
        'fetching the hub CA',
        signal,
        () => fetchPinnedCa(join.hub, join.caSha256),
        this.#opts.log,
      );
      if (!caPem) return undefined;
      const keys = generateKeyPair();
      const machineId =
        this.#opts.machineId ?? (await hostMachineId()) ?? (await state.machineId(newMachineId));
      const client = new HubClient(join.hub, caPem);
      const facts: Facts = {
        agentVersion: this.#opts.agentVersion,
        ...(await this.#siteFacts()),
        ...this.#opts.facts,
      };
      const res = await retryTransient(
        'registration',
        signal,
        () =>
          client.register({
            token: join.token,
            machineId,
            name: this.#opts.name,
            labels: this.#opts.labels,
            csr: createCsr({ commonName: machineId, keyPem: keys.privateKeyPem }),
            facts,
            ...(this.#opts.sealingKey ? { sealingKey: this.#opts.sealingKey } : {}),
          }),
        this.#opts.log,
      );
      client.close();
      if (!res) return undefined;
      this.#log('registered', { site: res.name, siteId: res.siteId, lifecycle: res.lifecycle });
      // the release key comes with the join token, never from the hub: the hub is not trusted with it
      const releaseKey = join.releaseKey ? { releaseKey: join.releaseKey } : {};
      if (res.certificate)
        return this.#adopt({
          hub: join.hub,
          siteId: res.siteId,
          name: res.name,
          caPem,
          certPem: res.certificate,
          keyPem: keys.privateKeyPem,
          ...(join.relays ? { relays: join.relays } : {}),
          ...releaseKey,
        });
      pending = {
        ...(join.relays ? { relays: join.relays } : {}),
        hub: join.hub,
        siteId: res.siteId,
        name: res.name,
        caPem,
        keyPem: keys.privateKeyPem,
        ticket: res.ticket!,
        ...releaseKey,
      };
      await state.savePending(pending);
    }
    // Pending approval: ask for the certificate now and then until an operator decides.
    const client = new HubClient(pending.hub, pending.caPem);
    const wait = new Wakeup();
    try {
      for (let attempt = 0; !signal.aborted; attempt++) {
        const res = await retryTransient(
          'collecting the certificate',
          signal,
          () => client.collectCertificate(pending.siteId, pending.ticket),
          this.#opts.log,
        );
        if (!res) return undefined;
        if (res.certificate) {
          await state.clearPending();
          return this.#adopt({ ...pending, certPem: res.certificate });
        }
        if (attempt === 0) this.#log('waiting for an operator to approve this site', { site: pending.name });
        await wait.sleep(backoffDelay(attempt, 2000, 60_000), signal);
      }
      return undefined;
    } finally {
      client.close();
    }
  }

  /** What the site says about itself at registration: host, Kubernetes version, node count. */
  async #siteFacts(): Promise<Facts> {
    const facts: Facts = { hostname: hostname() };
    const cluster = this.#opts.cluster;
    try {
      const version = await cluster.version?.();
      if (version) facts.kubernetesVersion = version;
      const nodes = await cluster.list({ apiVersion: 'v1', kind: 'Node' }, {});
      facts.capacity = { nodes: nodes.items.length };
    } catch (e) {
      // facts are for people; registering does not wait for a cluster that is not answering yet
      this.#log('could not read cluster facts', { error: (e as Error).message });
    }
    return facts;
  }

  async #adopt(id: Identity): Promise<Identity> {
    await this.#opts.state.saveIdentity(id);
    return id;
  }

  /** Renews the client certificate at two thirds of its lifetime, without stopping anything else. */
  async renew(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const info = certificateInfo(this.#identity!.certPem);
      const due = renewalDue(info.notBefore, info.notAfter).getTime() - Date.now();
      if (due > 0) {
        // setTimeout holds at most ~24.8 days; wake up daily to look again (or at once after a rotation)
        await this.#renewalWait.sleep(Math.min(due, 86400_000), signal);
        continue;
      }
      if (info.notAfter.getTime() <= Date.now()) {
        this.#log(
          'the site certificate has expired; the site keeps enforcing its state but must join again with a new token',
        );
        return;
      }
      if (!(await this.#renewOnce(signal))) return;
    }
  }

  /**
   * Renews the client certificate now (an operator's rotate-certificate action), through the same
   * renewal path as the periodic one; the new certificate's serial and expiry are the answer.
   */
  async rotate(signal: AbortSignal): Promise<{ serial: string; notAfter: string }> {
    if (!this.#identity || !this.#hub) throw new Error('this site has no certificate yet');
    if (!(await this.#renewOnce(signal))) throw new Error('the hub did not issue a certificate');
    this.#renewalWait.wake();
    const info = certificateInfo(this.#identity.certPem);
    return { serial: info.serialHex, notAfter: info.notAfter.toISOString() };
  }

  /** A new key, a CSR for it, the hub's certificate for it, kept: false when the hub gave none. */
  async #renewOnce(signal: AbortSignal): Promise<boolean> {
    const identity = this.#identity!;
    const hub = this.#hub!;
    const keys = generateKeyPair();
    const res = await retryTransient(
      'certificate renewal',
      signal,
      () => hub.renew(createCsr({ commonName: identity.siteId, keyPem: keys.privateKeyPem })),
      this.#opts.log,
    );
    if (!res?.certificate) return false;
    const renewed = { ...identity, certPem: res.certificate, keyPem: keys.privateKeyPem };
    await this.#opts.state.saveIdentity(renewed);
    this.#identity = renewed;
    hub.setIdentity(renewed, renewed.siteId);
    this.#log('certificate renewed', { notAfter: certificateInfo(res.certificate).notAfter.toISOString() });
    return true;
  }

  /** Resolves once the sealing key reached the hub, or its announcement gave up or was aborted. */
  async sealingKeyAnnounced(): Promise<void> {
    await this.#announcing;
  }

  /** Closes the hub client's connections. */
  close(): void {
    this.#hub?.close();
  }
}
