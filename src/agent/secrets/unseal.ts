// Turns the SealedSecrets of a rendered bundle into the Secrets they stand for, with this site's own
// sealing key, in memory only: the blob on disk keeps the ciphertext, and the values go to the cluster.

import type { KubeObject } from '../../model/manifest.ts';
import { isSealedSecret, sealingContext } from '../../model/sealed-secret.ts';
import { openValue, type SealingKeyPair, UnsealError } from '../../pki/sealing.ts';
import type { RenderedBundle } from '../../render/rendered.ts';

/**
 * The bundle with each SealedSecret replaced by its Secret. Throws an UnsealError naming the SealedSecret
 * and key when a value is not sealed to this site's key (or does not open), so that bundle fails alone.
 */
export async function unsealBundle(bundle: RenderedBundle, keys: SealingKeyPair): Promise<RenderedBundle> {
  if (!bundle.objects.some(isSealedSecret)) return bundle;
  const objects: KubeObject[] = [];
  for (const o of bundle.objects)
    objects.push(isSealedSecret(o) ? await secretOf(o, keys, bundle.bundle) : o);
  return { ...bundle, objects };
}

async function secretOf(sealed: KubeObject, keys: SealingKeyPair, bundle: string): Promise<KubeObject> {
  const { name = '', namespace = '', labels, annotations } = sealed.metadata;
  const spec = sealed.spec as { type?: string; encryptedData: Record<string, Record<string, string>> };
  const data: Record<string, string> = {};
  for (const [key, perSite] of Object.entries(spec.encryptedData)) {
    // the hub renders each site's document with its own value only
    const envelope = Object.values(perSite)[0];
    const where = `SealedSecret ${namespace}/${name} key ${key}`;
    if (envelope === undefined) throw new UnsealError(`${where} has no value for this site`);
    try {
      const value = await openValue(keys, envelope, sealingContext(namespace, name, key));
      data[key] = Buffer.from(value).toString('base64');
    } catch (e) {
      if (!(e instanceof UnsealError)) throw e;
      throw new UnsealError(
        `${where} ${e.message}; seal it again for this site: outpost secret seal -f FILE --bundle ${bundle}`,
      );
    }
  }
  const metadata: KubeObject['metadata'] = { name, namespace };
  if (labels) metadata.labels = labels;
  if (annotations) metadata.annotations = annotations;
  return { apiVersion: 'v1', kind: 'Secret', metadata, type: spec.type ?? 'Opaque', data };
}
