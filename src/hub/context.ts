// Everything a hub request or background job needs, wired in one place (contextFromConfig); tests
// build the same context with overrides instead of patching modules.

import type { ConnectivityThresholds } from '../model/site.ts';
import { defaultThresholds } from '../model/site.ts';
import { type BundleLimits, defaultLimits } from './bundles/revisions.ts';
import { DesiredWatch } from './desired-watch.ts';
import { ephemeralTls, type HubTls } from './identity/ca.ts';
import { openStore, type Store } from './store/index.ts';

export interface HubConfig {
  /** SQLite file path or ':memory:' */
  database: string;
  /** the URL agents are told to call (goes into join tokens) */
  publicUrl: string;
  /** longest an agent's long-poll is held open */
  maxWaitSeconds: number;
  /** lifetime of a site's client certificate; agents renew at two thirds of it */
  certificateValidityDays: number;
  connectivity: ConnectivityThresholds;
  /** bundle size and object-count limits, for apply, git sync and plan alike */
  limits: BundleLimits;
  /** where git sources fetched over HTTP(S) are kept; a temporary folder when unset */
  sourcesDir?: string;
}

export interface HubContext {
  config: HubConfig;
  store: Store;
  tls: HubTls;
  desiredWatch: DesiredWatch;
  now: () => Date;
}

export const defaultConfig: Omit<HubConfig, 'database'> = {
  publicUrl: 'https://127.0.0.1:7070',
  maxWaitSeconds: 55,
  certificateValidityDays: 30,
  connectivity: defaultThresholds,
  limits: defaultLimits,
};

export async function contextFromConfig(
  config: Partial<HubConfig> & Pick<HubConfig, 'database'>,
  overrides: Partial<Omit<HubContext, 'config'>> = {},
): Promise<HubContext> {
  const full: HubConfig = { ...defaultConfig, ...config };
  const now = overrides.now ?? (() => new Date());
  return {
    config: full,
    store: overrides.store ?? (await openStore(full.database)),
    tls: overrides.tls ?? ephemeralTls(now()),
    desiredWatch: overrides.desiredWatch ?? new DesiredWatch(),
    now,
  };
}
