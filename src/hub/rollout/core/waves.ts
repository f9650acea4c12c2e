// Splits a rollout's sites into its ordered waves, once, when the rollout is created: each site lands in
// exactly one wave, and sites no wave picked go to a final "remaining" wave instead of being left out.

import type { RolloutStrategy } from '../../../model/rollout-strategy.ts';
import { matchesSelector } from '../../../select/labels.ts';
import { shareOf } from './strategy.ts';

export interface WaveSite {
  id: string;
  name: string;
  labels: Readonly<Record<string, string>>;
}

export interface Wave {
  name: string;
  siteIds: string[];
}

export interface WaveAssignment {
  waves: Wave[];
  /** names listed in a `sites` wave that are not among the rollout's sites */
  unknownSites: string[];
}

/** The last wave, holding every site no wave of the strategy picked. */
export const remainingWave = 'remaining';

// Code-unit order, not localeCompare: the same fleet must split the same way on every hub.
function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Assigns every site to one wave, deterministically: sites are taken in name order, each wave picks from
 * those no earlier wave took, waves that pick nothing are dropped, and leftovers form a last wave named
 * "remaining". A percent wave takes that share of the sites still unassigned, rounded down but at least 1.
 *
 * @example
 * const sites = [
 *   { id: '1', name: 'store-a', labels: { region: 'west' } },
 *   { id: '2', name: 'store-b', labels: { region: 'east' } },
 *   { id: '3', name: 'store-c', labels: {} },
 * ];
 * assignWaves({ ...strategy, waves: [{ sites: ['store-c'] }, { groupBy: 'region' }] }, sites).waves;
 * // [{ name: 'wave 1', siteIds: ['3'] }, { name: 'region=east', siteIds: ['2'] }, { name: 'region=west', siteIds: ['1'] }]
 */
export function assignWaves(
  strategy: Pick<RolloutStrategy, 'waves'>,
  sites: readonly WaveSite[],
): WaveAssignment {
  let unassigned = [...sites].sort((a, b) => byText(a.name, b.name) || byText(a.id, b.id));
  const known = new Set(sites.map((s) => s.name));
  const unknownSites: string[] = [];
  const waves: Wave[] = [];
  const used = new Map<string, number>();

  const emit = (name: string, picked: readonly WaveSite[]): void => {
    if (picked.length === 0) return;
    const seen = used.get(name) ?? 0;
    used.set(name, seen + 1);
    const taken = new Set(picked);
    waves.push({ name: seen === 0 ? name : `${name} #${seen + 1}`, siteIds: picked.map((s) => s.id) });
    unassigned = unassigned.filter((s) => !taken.has(s));
  };

  strategy.waves.forEach((spec, i) => {
    const name = spec.name ?? `wave ${i + 1}`;
    if ('sites' in spec) {
      for (const n of spec.sites) if (!known.has(n) && !unknownSites.includes(n)) unknownSites.push(n);
      const wanted = new Set(spec.sites);
      emit(
        name,
        unassigned.filter((s) => wanted.has(s.name)),
      );
    } else if ('selector' in spec) {
      emit(
        name,
        unassigned.filter((s) => matchesSelector(spec.selector, s.labels)),
      );
    } else if ('count' in spec) {
      emit(name, unassigned.slice(0, spec.count));
    } else if ('percent' in spec) {
      emit(name, unassigned.slice(0, shareOf(spec.percent, unassigned.length)));
    } else {
      const key = spec.groupBy;
      const values = [
        ...new Set(unassigned.filter((s) => Object.hasOwn(s.labels, key)).map((s) => s.labels[key]!)),
      ];
      const prefix = spec.name ? `${spec.name} ` : '';
      for (const value of values.sort(byText)) {
        emit(
          `${prefix}${key}=${value}`,
          unassigned.filter((s) => Object.hasOwn(s.labels, key) && s.labels[key] === value),
        );
      }
      emit(
        `${prefix}${key} unset`,
        unassigned.filter((s) => !Object.hasOwn(s.labels, key)),
      );
    }
  });
  emit(remainingWave, unassigned);
  return { waves, unknownSites };
}
