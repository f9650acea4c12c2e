// Plan and explain, read-only: what a set of definitions (a directory handed over, or a commit of a
// source) would change on each site compared with what is desired there now, and why one bundle is
// or is not on one site. Uses the same parse, placement and render code as apply and sync.

import { OutpostError } from '../../model/errors.ts';
import type { Explanation, PlanRequest, PlanResult, SitePlan } from '../../model/fleet-wire.ts';
import type { KubeObject } from '../../model/manifest.ts';
import type { ChartRendering } from '../../render/chart-bundle.ts';
import { objectChanges } from '../../render/diff.ts';
import { overlayApplies } from '../../render/overlays.ts';
import { redactSecrets } from '../../render/redact.ts';
import type { RenderedBundle } from '../../render/rendered.ts';
import { compilePlacement, explainPlacement } from '../../select/placement.ts';
import { type FleetDefinition, readFleet } from '../bundles/definitions.ts';
import { specDigestOf } from '../bundles/revisions.ts';
import type { HubContext } from '../context.ts';
import { storedStrategyNames } from '../rollout/strategies.ts';
import { siteByName } from '../sites/sites.ts';
import { readSourceRevision } from '../sources/fleet-read.ts';
import { fleetSourceOf } from '../sources/fleet-source.ts';
import { problemOf, sourceRow } from '../sources/sources.ts';
import {
  loadBundles,
  placementBundleOf,
  placementFacts,
  renderingsFor,
  siteColumns,
  toPlacementSite,
} from './place.ts';
import { compileBundle, outcomeFor, planPlacement, renderingWaitMessage } from './plan.ts';

interface PlannedDefinitions {
  definitions: FleetDefinition[];
  errors: OutpostError[];
  /** chart renderings made for the plan (kept nowhere) */
  renderings: Map<string, ChartRendering>;
  commit?: string;
  source?: string;
  skipped?: NonNullable<PlanResult['skipped']>;
}

async function definitionsFor(ctx: HubContext, req: PlanRequest): Promise<PlannedDefinitions> {
  const known = new Set(
    (await ctx.store.db.selectFrom('bundles').select('name').execute()).map((b) => b.name),
  );
  if ('files' in req) {
    const strategies = await storedStrategyNames(ctx.store.db);
    const read = readFleet(req.files, ctx.config.limits, { knownBundles: known, strategies });
    // a directory handed over lacks what a chart or kustomization may reach outside its folder, so
    // those bundles are named as not planned rather than planned from part of their input
    const skipped = read.definitions
      .filter((d) => d.parsed.definition.generator)
      .map((d) => ({
        name: d.parsed.definition.name,
        file: d.files[0]!.path,
        reason: `made by ${d.parsed.definition.generator!.helm ? 'Helm' : 'Kustomize'}, which needs the whole repository: plan it with --source`,
      }));
    const definitions = read.definitions.filter((d) => !d.parsed.definition.generator);
    return { definitions, errors: read.errors, renderings: new Map(), skipped };
  }
  const row = await sourceRow(ctx, req.source);
  const source = fleetSourceOf(ctx, row);
  const head = await source.fetch();
  const commit = req.commit ?? head;
  const strategies = await storedStrategyNames(ctx.store.db, row.name);
  const read = await readSourceRevision(ctx, source, commit, { strategies });
  const renderings = new Map(read.renderings.map((r) => [r.wanted.digest, r.rendering]));
  return { definitions: read.definitions, errors: read.errors, renderings, commit, source: row.name };
}

/**
 * What would change on each site if these definitions shipped; changes nothing. Diffs compare what
 * operators may see, so a Secret's changed value shows as a changed digest.
 */
export async function planChanges(ctx: HubContext, req: PlanRequest): Promise<PlanResult> {
  const db = ctx.store.db;
  const { definitions, errors, commit, source, renderings: made, skipped } = await definitionsFor(ctx, req);
  const result: PlanResult = { bundles: [], errors: errors.map(problemOf), sites: [] };
  if (commit) result.commit = commit;
  if (skipped && skipped.length > 0) result.skipped = skipped;
  if (errors.length > 0) return result;

  const current = new Map((await db.selectFrom('bundles').selectAll().execute()).map((b) => [b.name, b]));
  const bundles = definitions.map((d) => {
    const was = current.get(d.parsed.definition.name);
    return placementBundleOf(
      d.parsed,
      was ? Number(was.revision) + (was.spec_digest === specDigestOf(d.parsed) ? 0 : 1) : 1,
    );
  });
  const named = new Set(bundles.map((b) => b.name));
  const deleted = source
    ? [...current.values()].filter((b) => b.source === source && !named.has(b.name)).map((b) => b.name)
    : [];
  const names = [...named, ...deleted];
  const sites = (await db.selectFrom('sites').select(siteColumns).execute()).map(toPlacementSite);
  const siteName = new Map(sites.map((s) => [s.id, s.name!]));
  const rows =
    names.length === 0
      ? []
      : await db
          .selectFrom('deployments')
          .leftJoin('blobs', 'blobs.digest', 'deployments.desired_digest')
          .select(['site_id', 'bundle', 'desired_digest', 'render_error', 'blobs.content'])
          .where('bundle', 'in', names)
          .execute();
  const existing = rows.map((r) => ({
    siteId: r.site_id,
    bundle: r.bundle,
    desiredDigest: r.desired_digest,
    renderError: r.render_error,
  }));
  const objectsNow = new Map<string, KubeObject[]>(
    rows.map((r) => [
      `${r.site_id}\u0000${r.bundle}`,
      redactSecrets(r.content ? (JSON.parse(r.content) as RenderedBundle).objects : []),
    ]),
  );
  const renderings = new Map([...(await renderingsFor(db, sites, bundles, new Map())), ...made]);
  const plan = planPlacement(sites, bundles, existing, new Map(), renderings);

  const out: SitePlan[] = [];
  for (const p of plan.place) {
    const now = objectsNow.get(`${p.siteId}\u0000${p.bundle}`);
    const changes = objectChanges(now ?? [], redactSecrets(p.blob.rendered.objects));
    out.push({
      site: siteName.get(p.siteId)!,
      bundle: p.bundle,
      action: now ? 'update' : 'place',
      digest: p.blob.digest,
      ...changes,
    });
  }
  for (const u of plan.unplace) {
    const now = objectsNow.get(`${u.siteId}\u0000${u.bundle}`) ?? [];
    out.push({
      site: siteName.get(u.siteId)!,
      bundle: u.bundle,
      action: 'remove',
      ...objectChanges(now, []),
    });
  }
  for (const f of plan.fail) {
    out.push({
      site: siteName.get(f.siteId)!,
      bundle: f.bundle,
      action: 'fail',
      error: problemOf(f.error),
      added: [],
      changed: [],
      removed: [],
    });
  }
  result.sites = out.sort((a, b) =>
    a.site === b.site ? (a.bundle < b.bundle ? -1 : 1) : a.site < b.site ? -1 : 1,
  );

  const targeted = new Map<string, number>();
  for (const b of bundles) {
    const c = compileBundle(b, renderings);
    targeted.set(b.name, sites.filter((s) => outcomeFor(c, s).kind === 'targeted').length);
  }
  result.bundles = [
    ...definitions.map((d) => {
      const name = d.parsed.definition.name;
      const was = current.get(name);
      const change = !was ? 'new' : was.spec_digest === specDigestOf(d.parsed) ? 'unchanged' : 'changed';
      return { name, change: change as 'new' | 'changed' | 'unchanged', sites: targeted.get(name) ?? 0 };
    }),
    ...deleted.map((name) => ({ name, change: 'deleted' as const, sites: 0 })),
  ];
  return result;
}

/** Why a bundle's current revision is or is not on a site: each selector term, CEL, include/exclude. */
export async function explainBundle(
  ctx: HubContext,
  bundleName: string,
  siteName: string,
): Promise<Explanation> {
  const [bundle] = await loadBundles(ctx.store.db, [bundleName]);
  if (!bundle) throw new OutpostError('not_found', `no bundle named ${bundleName}`);
  const site = await siteByName(ctx, siteName);
  const subject = { name: site.name, labels: site.labels, properties: site.properties };
  const placement = compilePlacement({ selector: bundle.selector, ...(bundle.placement ?? {}) });
  const e = explainPlacement(placement, subject);
  const out: Explanation = {
    bundle: bundle.name,
    revision: bundle.revision,
    site: site.name,
    targeted: e.targeted,
    reason: e.reason,
    excluded: e.excluded,
    included: e.included,
    selector: e.selector,
    overlays: (bundle.customization?.overlays ?? []).flatMap((o, i) =>
      overlayApplies(o, subject) ? [i] : [],
    ),
    ...(e.cel ? { cel: e.cel } : {}),
    ...(e.error !== undefined ? { error: e.error } : {}),
  };
  if (site.lifecycle !== 'Active') {
    out.targeted = false;
    out.reason = `${site.name} is ${site.lifecycle}; only Active sites get bundles`;
  } else if (e.targeted) {
    const placing = { id: site.id, ...subject, active: true, ...placementFacts(site.facts) };
    const renderings = await renderingsFor(ctx.store.db, [placing], [bundle], new Map());
    const outcome = outcomeFor(compileBundle(bundle, renderings), placing);
    if (outcome.kind === 'failed') out.renderError = outcome.error.message;
    if (outcome.kind === 'waiting') out.renderError = renderingWaitMessage;
  }
  return out;
}
