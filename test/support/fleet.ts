// A hub on a temporary SQLite database plus real agents against a real kube-apiserver: the pieces the
// end-to-end tests assemble. Every agent stops on its own AbortController when the test ends.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, type AgentOptions } from '../../src/agent/agent.ts';
import type { Cluster } from '../../src/agent/apply/cluster.ts';
import { KubeCluster } from '../../src/agent/kube/client.ts';
import { kubeConfigFromFile } from '../../src/agent/kube/config.ts';
import { HubApi } from '../../src/cli/hub-api.ts';
import { type RunningHub, type StartHubOptions, startHub } from '../../src/hub/start.ts';
import { decodeJoinToken, encodeJoinToken } from '../../src/model/join-token.ts';
import type { BundleFiles } from '../../src/model/wire.ts';

export interface TestHub {
  hub: RunningHub;
  /** the operator API as the first admin */
  api: HubApi;
  adminToken: string;
  /** an auto-approving join token good for many sites */
  joinToken: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startTestHub(opts: Partial<StartHubOptions> = {}): Promise<TestHub> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-hub-'));
  const hub = await startHub({ dataDir: dir, listen: '127.0.0.1:0', maxWaitSeconds: 5, ...opts });
  const adminToken = hub.adminToken!;
  const api = new HubApi(hub.url, adminToken, hub.caPem);
  const { joinToken } = await api.createBootstrapToken({
    description: 'tests',
    autoApprove: true,
    maxUses: 1000,
  });
  return {
    hub,
    api,
    adminToken,
    joinToken,
    dir,
    async stop() {
      api.close();
      await hub.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RunningAgent {
  agent: Agent;
  stateDir: string;
  /** settles when the agent's run ends (rejects if it failed) */
  done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts an agent against `hub` (or any URL given as opts.hub, e.g. a partition proxy) with test-speed
 * timings and its local page on a free port. `wrapCluster` can put a test double around the real
 * cluster client (to slow it down or to act mid-apply); the apply still reaches the real API server.
 */
export async function startAgent(
  fleet: Pick<TestHub, 'joinToken'>,
  kubeconfigPath: string,
  opts: Partial<AgentOptions> & { name: string; wrapCluster?: (c: KubeCluster) => Cluster },
): Promise<RunningAgent> {
  const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), `outpost-agent-${opts.name}-`)));
  const kube = new KubeCluster(kubeConfigFromFile(kubeconfigPath), { retryBaseMs: 100 });
  const { wrapCluster, ...agentOpts } = opts;
  const cluster = wrapCluster ? wrapCluster(kube) : kube;
  const agent = new Agent({
    joinToken: fleet.joinToken,
    machineId: `machine-${opts.name}`,
    stateDir,
    cluster,
    pollWaitSeconds: 5,
    readinessResyncMs: 200,
    heartbeatMs: 2000,
    driftCheckMs: 2000,
    relayRetryMs: 2000,
    localPage: '127.0.0.1:0',
    ...agentOpts,
  });
  const ac = new AbortController();
  const done = agent.run(ac.signal);
  return {
    agent,
    stateDir,
    done,
    async stop() {
      ac.abort();
      await done;
      kube.close();
    },
  };
}

/** The fleet's join token, but naming another URL for the hub (a proxy in front of it). */
export function via(fleet: Pick<TestHub, 'joinToken'>, url: string): Pick<TestHub, 'joinToken'> {
  const join = decodeJoinToken(fleet.joinToken)!;
  return { joinToken: encodeJoinToken({ ...join, hub: url }) };
}

/** A bundle document followed by manifests, as one file. */
export function bundleFile(
  name: string,
  selector: unknown,
  manifests: readonly unknown[],
  extra: Record<string, unknown> = {},
): BundleFiles {
  const docs = [
    {
      apiVersion: 'outpost.dev/v1',
      kind: 'Bundle',
      metadata: { name },
      spec: { placement: { selector }, ...extra },
    },
    ...manifests,
  ];
  return { files: [{ path: `${name}.yaml`, content: docs.map((d) => JSON.stringify(d)).join('\n---\n') }] };
}
