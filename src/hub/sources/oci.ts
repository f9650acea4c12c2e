// OCI sources: a repository in an OCI registry whose artifacts hold a fleet folder as a tarball layer
// (the Flux OCIRepository convention, so `flux push artifact` output works as it is). The source
// follows a tag or the highest tag in a semver range; each revision is pinned by manifest digest, and
// the layer is checked against its digest before it is unpacked. Credentials come from environment
// variables named in the source's config and never appear in messages.

import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import semver from 'semver';
import { OutpostError } from '../../model/errors.ts';
import {
  type CosignSignature,
  signatureAnnotation,
  signatureTag,
  simpleSigningMediaType,
} from './core/cosign.ts';
import { readTar, TarError, type TarFile } from './core/tar.ts';

/** What Flux's `flux push artifact` writes; any tar+gzip layer is accepted when this one is absent. */
export const fluxContentMediaType = 'application/vnd.cncf.flux.content.v1.tar+gzip';
export const fluxConfigMediaType = 'application/vnd.cncf.flux.config.v1+json';

/** A simple-signing payload is a few hundred bytes; far more is not one. */
const maxPayloadBytes = 64 * 1024;

const ociManifest = 'application/vnd.oci.image.manifest.v1+json';
const ociIndex = 'application/vnd.oci.image.index.v1+json';
const dockerManifest = 'application/vnd.docker.distribution.manifest.v2+json';
const dockerList = 'application/vnd.docker.distribution.manifest.list.v2+json';

export interface OciRef {
  /** a tag such as `latest` or `1.4.3` */
  tag?: string;
  /** a semver range over the repository's tags, e.g. `>=1.4.0 <2.0.0` or `~1.4` (commas mean "and") */
  semver?: string;
}

export interface OciAuth {
  username?: string;
  /** the variable holding the password or token */
  passwordEnv?: string;
}

export interface OciSourceSpec {
  /** oci://HOST[:PORT]/REPOSITORY */
  url: string;
  ref: OciRef;
  auth: OciAuth;
  /** plain HTTP instead of HTTPS (a registry on the hub's own machine, say) */
  insecure?: boolean;
  limits: { maxFiles: number; maxBytes: number };
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface OciRevision {
  /** the manifest digest the revision is pinned to: sha256:… */
  digest: string;
  /** the tag it was found under */
  tag: string;
  /** org.opencontainers.image.* annotations (source, revision, created) when the artifact has them */
  annotations: Record<string, string>;
}

export interface OciSource {
  /** the tag (or the highest tag in range) and the digest it points at now */
  resolve(): Promise<OciRevision>;
  /** every file of the artifact's content layer at a pinned digest */
  files(digest: string): Promise<TarFile[]>;
  /** the cosign signatures stored for a digest (none when it has no `sha256-<hex>.sig` tag) */
  signatures(digest: string): Promise<CosignSignature[]>;
  /** the repository's name in the registry, as a signature payload names it */
  repository: string;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

interface Manifest {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  annotations?: Record<string, string>;
}

/** Splits oci://host[:port]/repo into the registry's base URL and the repository name. */
export function parseOciUrl(
  url: string,
  insecure = false,
): { base: string; host: string; repository: string } {
  const m =
    /^oci:\/\/([^/@\s]+)\/([a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)$/.exec(
      url,
    );
  if (!m) {
    throw new OutpostError(
      'request_invalid',
      `${url}: an OCI source is oci://HOST[:PORT]/REPOSITORY (lower-case, no tag: give the tag or semver range apart)`,
    );
  }
  return { base: `${insecure ? 'http' : 'https'}://${m[1]}`, host: m[1]!, repository: m[2]! };
}

/** The range semver reads from a source's `semver` (commas mean "and"); request_invalid when it is none. */
export function semverRange(range: string): string {
  const valid = semver.validRange(range.replaceAll(',', ' '));
  if (!valid)
    throw new OutpostError(
      'request_invalid',
      `${range} is not a semver range (e.g. ">=1.4.0 <2.0.0", "~1.4")`,
    );
  return valid;
}

function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** One WWW-Authenticate challenge: scheme and parameters. */
function challengeOf(header: string | null): { scheme: string; params: Record<string, string> } | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)="([^"]*)"/g)) params[p[1]!] = p[2]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

function failed(message: string): OutpostError {
  return new OutpostError('source_failed', message);
}

/**
 * Opens an OCI source. Nothing is fetched until resolve() or files() is called.
 * @example openOciSource({ url: 'oci://registry.example.com/fleet', ref: { semver: '~1.4' }, auth: {}, limits })
 */
export function openOciSource(spec: OciSourceSpec): OciSource {
  const env = spec.env ?? process.env;
  const { base, host, repository } = parseOciUrl(spec.url, spec.insecure);
  const timeoutMs = spec.timeoutMs ?? 60_000;
  let authorization: string | undefined;

  const password = (): string | undefined => {
    const name = spec.auth.passwordEnv;
    if (!name) return undefined;
    const value = env[name];
    if (value === undefined || value === '') {
      throw failed(`the password variable ${name} is not set in the hub's environment`);
    }
    return value;
  };
  const basic = (): string | undefined => {
    const secret = password();
    if (secret === undefined) return undefined;
    return `Basic ${Buffer.from(`${spec.auth.username ?? ''}:${secret}`).toString('base64')}`;
  };

  async function send(url: string, headers: Record<string, string>): Promise<Response> {
    try {
      return await fetch(url, {
        headers: { ...headers, ...(authorization ? { authorization } : {}) },
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'follow',
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why =
        (e as Error).name === 'TimeoutError'
          ? `no answer within ${Math.round(timeoutMs / 1000)} s`
          : (cause?.code ?? cause?.message ?? (e as Error).message);
      throw failed(`the registry ${host} is unreachable: ${why}`);
    }
  }

  /** Answers a 401 the way registries ask: basic credentials, or a bearer token from their token service. */
  async function authenticate(res: Response): Promise<boolean> {
    const challenge = challengeOf(res.headers.get('www-authenticate'));
    const credentials = basic();
    if (challenge?.scheme === 'basic') {
      if (!credentials || authorization === credentials) return false;
      authorization = credentials;
      return true;
    }
    if (challenge?.scheme !== 'bearer' || !challenge.params.realm) return false;
    const realm = new URL(challenge.params.realm);
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    realm.searchParams.set('scope', challenge.params.scope ?? `repository:${repository}:pull`);
    let tokenRes: Response;
    try {
      tokenRes = await fetch(realm, {
        headers: credentials ? { authorization: credentials } : {},
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw failed(`the token service of ${host} is unreachable: ${(e as Error).message}`);
    }
    if (!tokenRes.ok) return false;
    const body = (await tokenRes.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token || authorization === `Bearer ${token}`) return false;
    authorization = `Bearer ${token}`;
    return true;
  }

  async function get(path: string, accept?: string): Promise<Response> {
    const url = `${base}/v2/${repository}/${path}`;
    const headers: Record<string, string> = accept ? { accept } : {};
    let res = await send(url, headers);
    if (res.status === 401 && (await authenticate(res))) res = await send(url, headers);
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      const named = spec.auth.passwordEnv
        ? 'refused the credentials'
        : 'needs credentials (username, passwordEnv)';
      throw failed(`the registry ${host} ${named} for ${repository} (HTTP ${res.status})`);
    }
    return res;
  }

  async function errorText(res: Response): Promise<string> {
    const text = await res.text();
    try {
      const body = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
      const first = body.errors?.[0];
      if (first) return `${first.code ?? ''} ${first.message ?? ''}`.trim();
    } catch {
      // not the registry's JSON error
    }
    return `HTTP ${res.status}`;
  }

  async function tags(): Promise<string[]> {
    const out: string[] = [];
    let path: string | undefined = 'tags/list?n=1000';
    while (path) {
      const res = await get(path);
      if (!res.ok)
        throw failed(`listing the tags of ${repository} on ${host} failed: ${await errorText(res)}`);
      const body = (await res.json()) as { tags?: string[] | null };
      out.push(...(body.tags ?? []));
      // Link: </v2/REPO/tags/list?last=x&n=1000>; rel="next"
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.get('link') ?? '')?.[1];
      path = next ? next.replace(new RegExp(`^(?:${base})?/v2/${repository}/`), '') : undefined;
    }
    return out;
  }

  /** A manifest by tag or digest, or undefined when the registry has none (404). */
  async function findManifest(
    reference: string,
  ): Promise<{ manifest: Manifest; digest: string } | undefined> {
    const res = await get(
      `manifests/${reference}`,
      [ociManifest, ociIndex, dockerManifest, dockerList].join(', '),
    );
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok)
      throw failed(`reading ${repository}:${reference} on ${host} failed: ${await errorText(res)}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const digest = sha256(bytes);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw failed(`the registry ${host} sent a manifest for ${reference} whose digest is ${digest}`);
    }
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
    const type = parsed.mediaType ?? res.headers.get('content-type') ?? '';
    if (type === ociIndex || type === dockerList) {
      throw failed(
        `${repository}:${reference} is an image index; a fleet artifact is one manifest with a tar+gzip layer`,
      );
    }
    return { manifest: parsed, digest };
  }

  async function manifest(reference: string): Promise<{ manifest: Manifest; digest: string }> {
    const found = await findManifest(reference);
    if (found) return found;
    throw failed(
      `${repository} on ${host} has no ${reference.startsWith('sha256:') ? 'manifest' : 'tag'} ${reference}`,
    );
  }

  /** A blob, refused when it is larger than `maxBytes` or its bytes do not match its digest. */
  async function blob(layer: Descriptor, maxBytes: number, what: string): Promise<Uint8Array> {
    if (layer.size > maxBytes) {
      throw failed(`${what} of ${repository} is ${layer.size} bytes; the limit is ${maxBytes}`);
    }
    const res = await get(`blobs/${layer.digest}`);
    if (!res.ok) throw failed(`reading ${what} of ${repository} failed: ${await errorText(res)}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (sha256(bytes) !== layer.digest) {
      throw failed(`${what} of ${repository} does not match its digest; refusing it`);
    }
    return bytes;
  }

  function contentLayer(m: Manifest, reference: string): Descriptor {
    const layers = m.layers ?? [];
    const flux = layers.find((l) => l.mediaType === fluxContentMediaType);
    if (flux) return flux;
    const tarballs = layers.filter((l) => /tar\+gzip$/.test(l.mediaType));
    if (tarballs.length === 1) return tarballs[0]!;
    const types = layers.map((l) => l.mediaType).join(', ') || 'none';
    throw failed(
      `${repository}@${reference} has no ${fluxContentMediaType} layer and ${tarballs.length === 0 ? 'no' : 'more than one'} other tar+gzip layer (layers: ${types})`,
    );
  }

  return {
    repository,

    async resolve() {
      let tag = spec.ref.tag;
      if (spec.ref.semver !== undefined) {
        const range = semverRange(spec.ref.semver);
        const all = await tags();
        const versions = new Map<string, string>();
        for (const t of all) {
          const v = semver.valid(t, { loose: true });
          // v1.2.3 and 1.2.3 both present: keep the first, as the registry lists them
          if (v && !versions.has(v)) versions.set(v, t);
        }
        const best = semver.maxSatisfying([...versions.keys()], range);
        if (!best) {
          const shown = all.slice(-10).join(', ') || 'none';
          throw failed(
            `no tag of ${repository} on ${host} is in the range ${spec.ref.semver} (latest tags: ${shown})`,
          );
        }
        tag = versions.get(best)!;
      }
      if (!tag) throw new OutpostError('request_invalid', 'an OCI source needs a tag or a semver range');
      const { manifest: m, digest } = await manifest(tag);
      contentLayer(m, digest);
      return { digest, tag, annotations: m.annotations ?? {} };
    },

    async files(digest) {
      const { manifest: m } = await manifest(digest);
      const layer = contentLayer(m, digest);
      const tarball = await blob(layer, spec.limits.maxBytes, `the content layer ${layer.digest}`);
      try {
        const tar = gunzipSync(tarball, { maxOutputLength: spec.limits.maxBytes + 1024 * 1024 });
        return readTar(tar, spec.limits);
      } catch (e) {
        const why =
          e instanceof TarError
            ? e.message
            : (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE'
              ? `it unpacks to more than ${spec.limits.maxBytes} bytes`
              : `not a gzip-compressed tar archive (${(e as Error).message})`;
        throw new OutpostError('bundle_invalid', `the content layer of ${repository}@${digest}: ${why}`);
      }
    },

    async signatures(digest) {
      const found = await findManifest(signatureTag(digest));
      if (!found) return [];
      const signed = (found.manifest.layers ?? []).filter(
        (l) => l.mediaType === simpleSigningMediaType && l.annotations?.[signatureAnnotation],
      );
      return Promise.all(
        signed.map(async (l) => ({
          payload: await blob(l, maxPayloadBytes, `the signature payload ${l.digest}`),
          signature: l.annotations![signatureAnnotation]!,
        })),
      );
    },
  };
}
