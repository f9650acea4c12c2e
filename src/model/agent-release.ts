// An agent version as the fleet carries it: a release the hub stores by digest, signed with a release key
// the sites pinned when they joined, and placed like any bundle. The reserved bundle `outpost-agent` holds
// one AgentRelease object; the agent runs that release instead of applying the object to Kubernetes, so
// an agent upgrade goes through waves, gates, windows, budgets and rollback exactly as a bundle does.

import type { KubeObject } from './manifest.ts';

export const agentBundleName = 'outpost-agent';
export const agentReleaseApiVersion = 'outpost.dev/v1';
export const agentReleaseKind = 'AgentRelease';

/** What a release is: the signed part (version, digest, size, image) and how long a new one may take. */
export interface AgentRelease {
  version: string;
  /** sha256 of the release tarball (scripts/build-release.sh), `sha256:<hex>` */
  digest: string;
  /** bytes of the tarball */
  size: number;
  /** the agent image of this version for in-cluster installs; a digest reference pins it */
  image?: string;
  /** base64 Ed25519 signature of releaseStatement() by the release key */
  signature: string;
  /** how long the new version has to prove itself before the site goes back */
  deadlineSeconds: number;
}

export const defaultUpgradeDeadlineSeconds = 300;
const versionPattern = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;
const digestPattern = /^sha256:[0-9a-f]{64}$/;

/** A version string a release may have: also a folder name on the site, so nothing path-like. */
export function versionProblem(version: string): string | undefined {
  return versionPattern.test(version)
    ? undefined
    : `"${version}" is not a release version (letters, digits and . + _ -, at most 64)`;
}

/**
 * The exact bytes the release key signs: what identifies the release, never where it is stored. A hub
 * that changes any of it (another tarball, another image) breaks the signature.
 */
export function releaseStatement(r: Pick<AgentRelease, 'version' | 'digest' | 'size' | 'image'>): string {
  return JSON.stringify({
    statement: 'outpost-agent-release/v1',
    version: r.version,
    digest: r.digest,
    size: r.size,
    image: r.image ?? null,
  });
}

export function agentReleaseObject(r: AgentRelease): KubeObject {
  const spec: Record<string, unknown> = {
    version: r.version,
    digest: r.digest,
    size: r.size,
    signature: r.signature,
    deadlineSeconds: r.deadlineSeconds,
  };
  if (r.image) spec.image = r.image;
  return {
    apiVersion: agentReleaseApiVersion,
    kind: agentReleaseKind,
    metadata: { name: agentBundleName },
    spec,
  };
}

export function isAgentRelease(o: { apiVersion?: unknown; kind?: unknown }): boolean {
  return o.apiVersion === agentReleaseApiVersion && o.kind === agentReleaseKind;
}

/** Reads an AgentRelease object, or says what is wrong with it. */
export function parseAgentRelease(o: KubeObject): AgentRelease | { problem: string } {
  const spec = (o as { spec?: Record<string, unknown> }).spec;
  if (!spec || typeof spec !== 'object') return { problem: 'an AgentRelease needs a spec' };
  const { version, digest, size, image, signature, deadlineSeconds } = spec;
  if (typeof version !== 'string') return { problem: 'spec.version is required' };
  const bad = versionProblem(version);
  if (bad) return { problem: `spec.version: ${bad}` };
  if (typeof digest !== 'string' || !digestPattern.test(digest))
    return { problem: 'spec.digest must be sha256:<64 hex>' };
  if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0)
    return { problem: 'spec.size must be a positive integer' };
  if (image !== undefined && (typeof image !== 'string' || image === '' || /\s/.test(image)))
    return { problem: 'spec.image must be an image reference' };
  if (typeof signature !== 'string' || !/^[A-Za-z0-9+/]+=*$/.test(signature))
    return { problem: 'spec.signature must be base64' };
  const deadline = deadlineSeconds ?? defaultUpgradeDeadlineSeconds;
  if (typeof deadline !== 'number' || !Number.isInteger(deadline) || deadline < 10 || deadline > 86400)
    return { problem: 'spec.deadlineSeconds must be an integer from 10 to 86400' };
  return {
    version,
    digest,
    size,
    signature,
    deadlineSeconds: deadline,
    ...(typeof image === 'string' ? { image } : {}),
  };
}

/**
 * The rules of the reserved bundle, checked where bundles are parsed: `outpost-agent` holds exactly one
 * valid AgentRelease and nothing else, and no other bundle holds one. Returns the index of the offending
 * object (or -1 for the bundle itself) with the problem, or undefined when the bundle keeps the rules.
 */
export function agentBundleProblem(
  bundle: string,
  objects: readonly KubeObject[],
): { index: number; problem: string } | undefined {
  const releases = objects.flatMap((o, i) => (isAgentRelease(o) ? [i] : []));
  if (bundle !== agentBundleName) {
    const at = releases[0];
    return at === undefined
      ? undefined
      : { index: at, problem: `an AgentRelease belongs only in the bundle named ${agentBundleName}` };
  }
  if (objects.length !== 1 || releases.length !== 1)
    return {
      index: -1,
      problem: `the bundle ${agentBundleName} holds exactly one AgentRelease and nothing else (outpost agent upgrade writes it)`,
    };
  const parsed = parseAgentRelease(objects[0]!);
  return 'problem' in parsed ? { index: 0, problem: parsed.problem } : undefined;
}

/**
 * What a site reports for the agent bundle when it went back from a new release, so the hub can record
 * `agent_upgrade_reverted`: "agent upgrade to 0.3.0 reverted: not ready within 300s; running 0.2.0".
 */
export function upgradeRevertedMessage(version: string, reason: string, running: string): string {
  return `agent upgrade to ${version} reverted: ${reason}; running ${running}`;
}

export function saysUpgradeReverted(message: string | undefined): boolean {
  return message !== undefined && /^agent upgrade to \S+ reverted: /.test(message);
}
