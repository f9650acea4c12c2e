// The hub's manifest generators as configured: which helm and kustomize executables it runs (named by
// `hub --helm` / `--kustomize`, else found on its PATH), under which limits, and Helm's version, which
// is asked once per executable since it names every rendering.

import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { OutpostError } from '../../model/errors.ts';
import type { HubConfig } from '../config.ts';
import { type HelmTool, helmVersion } from './helm.ts';
import type { KustomizeTool } from './kustomize.ts';

/** An executable's path: as given when it names a path, else the first match on PATH; undefined if none. */
export function findExecutable(name: string, path = process.env.PATH ?? ''): string | undefined {
  const runnable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (name.includes('/')) return runnable(name) ? name : undefined;
  return path
    .split(delimiter)
    .filter((dir) => isAbsolute(dir))
    .map((dir) => join(dir, name))
    .find(runnable);
}

const versions = new Map<string, Promise<string>>();

export interface Helm {
  tool: HelmTool;
  version: string;
}

/** The configured helm and its version; throws `unavailable` saying how to give the hub one. */
export async function helmOf(config: HubConfig): Promise<Helm> {
  const named = config.generators.helm ?? 'helm';
  const bin = findExecutable(named);
  if (!bin) {
    throw new OutpostError(
      'unavailable',
      `the hub has no helm (${named} not found): install Helm v4 on the hub's PATH or give hub --helm PATH`,
    );
  }
  const tool: HelmTool = {
    bin,
    timeoutMs: config.generators.timeoutMs,
    maxOutputBytes: config.limits.maxBundleBytes,
  };
  let version = versions.get(bin);
  if (!version) {
    version = helmVersion(tool);
    versions.set(bin, version);
    version.catch(() => versions.delete(bin));
  }
  return { tool, version: await version };
}

/** The configured kustomize; throws `unavailable` saying how to give the hub one. */
export function kustomizeOf(config: HubConfig): KustomizeTool {
  const named = config.generators.kustomize ?? 'kustomize';
  const bin = findExecutable(named);
  if (!bin) {
    throw new OutpostError(
      'unavailable',
      `the hub has no kustomize (${named} not found): install kustomize v5 on the hub's PATH or give hub --kustomize PATH`,
    );
  }
  return {
    bin,
    timeoutMs: config.generators.timeoutMs,
    maxOutputBytes: config.limits.maxBundleBytes,
    allowRemoteBases: config.generators.kustomizeRemoteBases,
  };
}
