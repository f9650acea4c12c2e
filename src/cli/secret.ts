// `outpost secret seal`: turns a Kubernetes Secret on the operator's machine into a SealedSecret whose
// values only the sites it is for can open, fetching their public keys from the hub. The plaintext never
// leaves this process; sealing again (a site replaced, a value changed) is the same command.

import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import { parseAllDocuments, stringify } from 'yaml';
import { OutpostError } from '../model/errors.ts';
import type { KubeObject } from '../model/manifest.ts';
import { sealedSecretApiVersion, sealedSecretKind, sealingContext } from '../model/sealed-secret.ts';
import type { SealingKeys } from '../model/sealing-wire.ts';
import { sealValue } from '../pki/sealing.ts';
import { api, operatorOptions } from './options.ts';

const secretKeyPattern = /^[-._a-zA-Z0-9]+$/;

/** A Secret as the operator wrote it: its values in bytes, stringData over data as Kubernetes does. */
export interface PlainSecret {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  type?: string;
  values: Map<string, Uint8Array>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Reads the one Secret of a YAML file; anything else is refused with the file and line. */
export function parsePlainSecret(text: string, file: string): PlainSecret {
  const docs = parseAllDocuments(text, { version: '1.1' });
  const list = (Array.isArray(docs) ? docs : [docs]).filter((d) => d.contents !== null);
  const fail = (message: string): never => {
    throw new OutpostError('manifest_invalid', message, { file });
  };
  if (list.length !== 1) fail(`holds ${list.length} documents; give exactly one Secret`);
  const doc = list[0]!;
  if (doc.errors[0]) fail(`invalid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  const v = doc.toJS() as unknown;
  if (!isRecord(v) || v.apiVersion !== 'v1' || v.kind !== 'Secret') fail('is not a Secret (apiVersion: v1)');
  const s = v as Record<string, unknown>;
  const metadata = isRecord(s.metadata) ? s.metadata : {};
  if (typeof metadata.name !== 'string' || metadata.name === '') fail('metadata.name is missing');
  const values = new Map<string, Uint8Array>();
  const add = (field: 'data' | 'stringData', decode: (v: string) => Uint8Array) => {
    const m = s[field];
    if (m === undefined || m === null) return;
    if (!isRecord(m)) fail(`${field} is a mapping of keys to values`);
    for (const [key, value] of Object.entries(m as Record<string, unknown>)) {
      if (!secretKeyPattern.test(key)) fail(`${field}.${key} is not a valid Secret key`);
      if (typeof value !== 'string') fail(`${field}.${key} is a string`);
      values.set(key, decode(value as string));
    }
  };
  add('data', (b64) => {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64.replace(/\s/g, ''))) fail('data values are base64');
    return new Uint8Array(Buffer.from(b64, 'base64'));
  });
  add('stringData', (text) => new TextEncoder().encode(text));
  if (values.size === 0) fail('has no data or stringData to seal');
  const secret: PlainSecret = { name: metadata.name as string, values };
  if (typeof metadata.namespace === 'string') secret.namespace = metadata.namespace;
  if (isRecord(metadata.labels)) secret.labels = metadata.labels as Record<string, string>;
  if (isRecord(metadata.annotations)) secret.annotations = metadata.annotations as Record<string, string>;
  if (typeof s.type === 'string') secret.type = s.type;
  return secret;
}

/**
 * The SealedSecret of `secret` for every site in `keys`: each value sealed to each site's key, bound to
 * the Secret's namespace, name and key. The namespace is the Secret's own, else the bundle's.
 */
export async function sealSecret(secret: PlainSecret, keys: SealingKeys): Promise<KubeObject> {
  const namespace = secret.namespace ?? keys.namespace ?? undefined;
  if (!namespace)
    throw new OutpostError(
      'request_invalid',
      `Secret ${secret.name} names no namespace and the bundle has none: set metadata.namespace`,
    );
  const encryptedData: Record<string, Record<string, string>> = {};
  for (const [key, value] of [...secret.values].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const context = sealingContext(namespace, secret.name, key);
    const perSite: Record<string, string> = {};
    for (const site of keys.sites) perSite[site.site] = await sealValue(site.publicKey, value, context);
    encryptedData[key] = perSite;
  }
  const metadata: KubeObject['metadata'] = { name: secret.name, namespace };
  if (secret.labels) metadata.labels = secret.labels;
  if (secret.annotations) metadata.annotations = secret.annotations;
  return {
    apiVersion: sealedSecretApiVersion,
    kind: sealedSecretKind,
    metadata,
    spec: { ...(secret.type ? { type: secret.type } : {}), encryptedData },
  };
}

export function addSecretCommands(root: Command): void {
  const secret = root
    .command('secret')
    .description('secrets sealed to the sites they are for: the hub stores only ciphertext');
  operatorOptions(
    secret
      .command('seal')
      .description(
        "seal a Secret's values to the sealing key of each site a bundle is placed on (or of named sites)",
      ),
  )
    .requiredOption('-f, --file <path>', 'a YAML file holding one Secret (data or stringData)')
    .option('--bundle <name>', 'seal for the sites this bundle is placed on')
    .option('--site <name...>', 'seal for these sites')
    .option('--out <path>', 'write the SealedSecret here (default: standard output)')
    .action(async (opts) => {
      if ((opts.bundle === undefined) === (opts.site === undefined))
        throw new OutpostError('request_invalid', 'give --bundle or --site, not both and not neither');
      const plain = parsePlainSecret(await readFile(opts.file, 'utf8'), opts.file);
      const hub = await api(opts);
      const keys = await hub.sealingKeys(
        opts.bundle !== undefined ? { bundle: opts.bundle } : { site: opts.site },
      );
      hub.close();
      if (keys.sites.length === 0) {
        throw new OutpostError(
          'conflict',
          `no site to seal for: ${
            keys.withoutKey.length > 0
              ? `${keys.withoutKey.join(', ')} sent no sealing key yet (start their agents)`
              : `bundle ${opts.bundle} is placed on no site`
          }`,
        );
      }
      const sealed = await sealSecret(plain, keys);
      const text = `# sealed by outpost secret seal for ${keys.sites.length} site(s); only they can open it\n${stringify(sealed, { lineWidth: 0 })}`;
      if (opts.out) await writeFile(opts.out, text);
      else process.stdout.write(text);
      process.stderr.write(
        `sealed ${plain.values.size} key(s) of Secret ${plain.name} for ${keys.sites.length} site(s): ${keys.sites
          .map((s) => `${s.site} (key ${s.keyId})`)
          .join(', ')}\n`,
      );
      if (keys.withoutKey.length > 0)
        process.stderr.write(
          `not sealed for ${keys.withoutKey.join(', ')}: no sealing key yet; seal again once their agents ran\n`,
        );
    });
}
