// Everything a hub request or background job needs, wired in one place (fromConfig); tests build the
// same context with overrides instead of patching modules.

import type { ConnectivityThresholds } from '../model/site.ts';
import { defaultThresholds } from '../model/site.ts';
import { DesiredWatch } from './desired-watch.ts';
import { openStore, type Store } from './store/index.ts';

export interface HubConfig {
  /** SQLite file path or ':memory:' */
  database: string;
  /** bearer token operators present on /api/v1 */
  operatorToken: string;
  /** shared token a new site presents once to register (the identity issue replaces it) */
  registrationToken: string;
  /** longest an agent's long-poll is held open */
  maxWaitSeconds: number;
  connectivity: ConnectivityThresholds;
}

export interface HubContext {
  config: HubConfig;
  store: Store;
  desiredWatch: DesiredWatch;
  now: () => Date;
}

export async function contextFromConfig(
  config: Omit<HubConfig, 'maxWaitSeconds' | 'connectivity'> & Partial<HubConfig>,
  overrides: Partial<Omit<HubContext, 'config'>> = {},
): Promise<HubContext> {
  const full: HubConfig = { maxWaitSeconds: 55, connectivity: defaultThresholds, ...config };
  return {
    config: full,
    store: overrides.store ?? (await openStore(full.database)),
    desiredWatch: overrides.desiredWatch ?? new DesiredWatch(),
    now: overrides.now ?? (() => new Date()),
  };
}
