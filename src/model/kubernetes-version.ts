// Kubernetes versions as distributions write them (v1.31.4, v1.31.4+k3s1, v1.31.4+rke2r1) and the
// upstream version-skew rules a profile change must keep: one minor at a time, kubelets never newer
// than the API server and at most three minors older (kubernetes.io/releases/version-skew-policy).

export const kubernetesDistributions = ['k3s', 'rke2', 'other'] as const;
export type KubernetesDistribution = (typeof kubernetesDistributions)[number];

export interface KubernetesVersion {
  major: number;
  minor: number;
  patch: number;
  /** the distribution build after `+` (k3s1, rke2r1), '' for upstream */
  build: string;
  /** the text as written, with its leading v */
  text: string;
}

/** How far a kubelet may trail the API server, in minor versions (since Kubernetes 1.28). */
export const maxKubeletMinorsBehind = 3;

const versionPattern = /^v?(0|[1-9]\d{0,3})\.(0|[1-9]\d{0,3})\.(0|[1-9]\d{0,4})(?:\+([0-9A-Za-z.-]{1,32}))?$/;

/** Reads a Kubernetes version, or undefined when the text is not one. */
export function parseKubernetesVersion(text: string): KubernetesVersion | undefined {
  const m = versionPattern.exec(text.trim());
  if (!m) return undefined;
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    build: m[4] ?? '',
    text: text.trim().startsWith('v') ? text.trim() : `v${text.trim()}`,
  };
}

/** The distribution a version's build names: k3s1 is k3s, rke2r1 is RKE2, anything else is other. */
export function distributionOf(v: KubernetesVersion): KubernetesDistribution {
  if (/^k3s\d+$/.test(v.build)) return 'k3s';
  if (/^rke2r\d+$/.test(v.build)) return 'rke2';
  return 'other';
}

function buildNumber(build: string): number {
  const m = /(\d+)$/.exec(build);
  return m ? Number(m[1]) : 0;
}

/** Orders versions: major, minor, patch, then the distribution's build number (k3s1 < k3s2). */
export function compareKubernetesVersions(a: KubernetesVersion, b: KubernetesVersion): number {
  return (
    a.major - b.major || a.minor - b.minor || a.patch - b.patch || buildNumber(a.build) - buildNumber(b.build)
  );
}

/** Minor versions from a to b (negative when b is older); across majors counts as unbounded. */
export function minorDistance(a: KubernetesVersion, b: KubernetesVersion): number {
  if (a.major !== b.major) return (b.major - a.major) * Number.POSITIVE_INFINITY;
  return b.minor - a.minor;
}

/**
 * Why a site running `from` cannot be moved to `to` by a profile change, or undefined when it can:
 * the control plane goes up one minor at a time and never down across a minor (etcd data and stored
 * API versions do not go back); patch and build changes within a minor go either way.
 */
export function kubernetesChangeProblem(from: KubernetesVersion, to: KubernetesVersion): string | undefined {
  const distance = minorDistance(from, to);
  if (distance > 1) {
    return `${from.text} → ${to.text} skips a Kubernetes minor version: upgrade to ${from.major}.${from.minor + 1} first`;
  }
  if (distance < 0) {
    return `${from.text} → ${to.text} goes back a Kubernetes minor version, which Kubernetes does not support`;
  }
  return undefined;
}

/**
 * Why a kubelet at `kubelet` may not talk to an API server at `apiserver` under the upstream skew
 * policy, or undefined when it may.
 */
export function kubeletSkewProblem(
  apiserver: KubernetesVersion,
  kubelet: KubernetesVersion,
): string | undefined {
  const behind = minorDistance(kubelet, apiserver);
  if (behind < 0) return `kubelet ${kubelet.text} is newer than the API server ${apiserver.text}`;
  if (behind > maxKubeletMinorsBehind) {
    return `kubelet ${kubelet.text} is ${behind === Number.POSITIVE_INFINITY ? 'a major' : behind} minor versions behind the API server ${apiserver.text} (at most ${maxKubeletMinorsBehind})`;
  }
  return undefined;
}
