// Map: every site placed by its coordinates over a Natural Earth outline bundled into the build (no map
// tiles from anywhere), coloured by state and clustered on a pixel grid so 100,000 sites stay readable.
// Keyboard: arrows pan, + and - zoom, 0 shows the world; the largest clusters are listed as buttons too.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { feature, mesh } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import countries from 'world-atlas/countries-110m.json';
import {
  type Cluster,
  clusterAt,
  clusterGrid,
  clusterRadius,
  clusterTone,
} from '../../../src/web/cluster.ts';
import { count } from '../../../src/web/format.ts';
import {
  drawableRing,
  panBy,
  project,
  unproject,
  type View,
  worldView,
  zoomAt,
} from '../../../src/web/projection.ts';
import { siteTone, toneLabels, tones } from '../../../src/web/tone.ts';
import { get } from '../api.ts';
import { navigate } from '../router.ts';
import { Show, useData } from '../ui.tsx';

interface Locations {
  names: string[];
  lat: number[];
  lon: number[];
  connectivity: number[];
  state: number[];
  lifecycle: number[];
  dictionary: { connectivity: string[]; state: Array<string | null>; lifecycle: string[] };
  unplaced: number;
}

export const toneColours: Record<(typeof tones)[number], string> = {
  failed: '#c62828',
  degraded: '#ef6c00',
  offline: '#6d4c41',
  stale: '#f9a825',
  pending: '#6a1b9a',
  healthy: '#2e7d32',
  idle: '#1565c0',
};

const topology = countries as unknown as Topology<{
  countries: GeometryCollection;
  land: GeometryCollection;
}>;
const land = feature(topology, topology.objects.countries);
const borders = mesh(topology, topology.objects.countries, (a, b) => a !== b);

type Ring = number[][];

/** Land as rings ready to fill: each at every offset it needs to cover both sides of the antimeridian. */
function ringsOf(): Ring[] {
  const rings: Ring[] = [];
  for (const f of land.features) {
    const g = f.geometry;
    if (g?.type === 'Polygon') rings.push(...(g.coordinates as Ring[]));
    if (g?.type === 'MultiPolygon') for (const p of g.coordinates as Ring[][]) rings.push(...p);
  }
  return rings.flatMap((ring) => {
    const { points, copies } = drawableRing(ring);
    return copies.map((dx) => points.map(([lon, lat]) => [lon! + dx, lat!]));
  });
}
const landRings = ringsOf();

function trace(ctx: CanvasRenderingContext2D, ring: Ring, view: View, w: number, h: number) {
  let prevLon: number | undefined;
  ring.forEach(([lon, lat], i) => {
    const [x, y] = project(lon!, lat!, view, w, h);
    // border lines break where they cross the antimeridian instead of striking across the map
    const jump = prevLon !== undefined && Math.abs(lon! - prevLon) > 180;
    prevLon = lon;
    if (jump) {
      ctx.moveTo(x, y);
      return;
    }
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
}

const cellPx = 36;

function SiteMap({ loc }: { loc: Locations }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const wrap = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState({ w: 960, h: 480 });
  const [view, setView] = useState<View>(worldView);
  const [hover, setHover] = useState<Cluster | undefined>(undefined);

  useEffect(() => {
    const measure = () => {
      const w = Math.max(320, Math.floor(wrap.current?.clientWidth ?? 960));
      setSize({ w, h: Math.round(w / 2) });
    };
    measure();
    const ro = new ResizeObserver(measure);
    if (wrap.current) ro.observe(wrap.current);
    return () => ro.disconnect();
  }, []);

  const toneIndex = useMemo(() => {
    const t = new Uint8Array(loc.names.length);
    for (let i = 0; i < t.length; i++) {
      const tone = siteTone(
        loc.dictionary.lifecycle[loc.lifecycle[i]!] ?? '',
        loc.dictionary.connectivity[loc.connectivity[i]!] ?? '',
        loc.dictionary.state[loc.state[i]!] ?? null,
      );
      t[i] = tones.indexOf(tone);
    }
    return t;
  }, [loc]);

  const clusters = useMemo(() => {
    const n = loc.names.length;
    const xs = new Float64Array(n);
    const ys = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const [x, y] = project(loc.lon[i]!, loc.lat[i]!, view, size.w, size.h);
      xs[i] = x;
      ys[i] = y;
    }
    return clusterGrid(xs, ys, toneIndex, tones.length, cellPx);
  }, [loc, view, size, toneIndex]);

  const visible = clusters.filter(
    (c) => c.x >= -30 && c.y >= -30 && c.x <= size.w + 30 && c.y <= size.h + 30,
  );

  useEffect(() => {
    const el = canvas.current;
    if (!el) return;
    const dpr = window.devicePixelRatio || 1;
    el.width = size.w * dpr;
    el.height = size.h * dpr;
    const ctx = el.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#dcecf7';
    ctx.fillRect(0, 0, size.w, size.h);
    ctx.beginPath();
    for (const ring of landRings) trace(ctx, ring, view, size.w, size.h);
    ctx.fillStyle = '#f4f1ea';
    ctx.fill('evenodd');
    ctx.beginPath();
    for (const line of borders.coordinates) trace(ctx, line as Ring, view, size.w, size.h);
    ctx.strokeStyle = '#b9b2a4';
    ctx.lineWidth = 0.6;
    ctx.stroke();
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.font = '600 11px system-ui, sans-serif';
    for (const c of visible) {
      const r = clusterRadius(c.count);
      ctx.beginPath();
      ctx.arc(c.x, c.y, r, 0, Math.PI * 2);
      ctx.fillStyle = toneColours[tones[clusterTone(c)]!];
      ctx.fill();
      ctx.lineWidth = c === hover ? 3 : 1.5;
      ctx.strokeStyle = c === hover ? '#111' : '#fff';
      ctx.stroke();
      if (c.count > 1) {
        ctx.fillStyle = '#fff';
        ctx.fillText(c.count >= 1000 ? `${Math.round(c.count / 100) / 10}k` : String(c.count), c.x, c.y);
      }
    }
  }, [visible, view, size, hover]);

  const at = (e: MouseEvent): [number, number] => {
    const r = (e.currentTarget as HTMLCanvasElement).getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  const open = (c: Cluster) => {
    if (c.count === 1) navigate(`/sites/${encodeURIComponent(loc.names[c.first]!)}`);
    else setView(zoomAt(view, 3, c.x, c.y, size.w, size.h));
  };
  /** The view zoomed by `factor` about the middle of the map, as the buttons and keys zoom. */
  const zoomAtCentre = (factor: number) => zoomAt(view, factor, size.w / 2, size.h / 2, size.w, size.h);
  const drag = useRef<{ x: number; y: number; moved: boolean } | null>(null);
  const toneTotals = tones.map((_, i) => clusters.reduce((n, c) => n + (c.tones[i] ?? 0), 0));
  const largest = [...visible].sort((a, b) => b.count - a.count).slice(0, 8);
  const total = clusters.reduce((n, c) => n + c.count, 0);

  return (
    <>
      <fieldset class="toolbar">
        <legend class="sr-only">Map controls</legend>
        <button type="button" class="secondary" onClick={() => setView(zoomAtCentre(2))}>
          Zoom in
        </button>
        <button type="button" class="secondary" onClick={() => setView(zoomAtCentre(0.5))}>
          Zoom out
        </button>
        <button type="button" class="secondary" onClick={() => setView(worldView)}>
          Whole world
        </button>
        <span class="note">
          Zoom {view.zoom.toFixed(1)}×, {count(visible.length)} markers in view
        </span>
      </fieldset>
      <div ref={wrap} class="map-wrap">
        <canvas
          ref={canvas}
          style={{ width: `${size.w}px`, height: `${size.h}px` }}
          tabIndex={0}
          role="img"
          aria-label={`Map of ${count(total)} sites in ${count(clusters.length)} clusters. Arrow keys pan, plus and minus zoom, 0 shows the whole world.`}
          data-testid="site-map"
          data-sites={total}
          data-clusters={clusters.length}
          data-visible-sites={visible.reduce((n, c) => n + c.count, 0)}
          onKeyDown={(e) => {
            const step = 60;
            const moves: Record<string, () => View> = {
              ArrowLeft: () => panBy(view, step, 0, size.w),
              ArrowRight: () => panBy(view, -step, 0, size.w),
              ArrowUp: () => panBy(view, 0, step, size.w),
              ArrowDown: () => panBy(view, 0, -step, size.w),
              '+': () => zoomAtCentre(2),
              '=': () => zoomAtCentre(2),
              '-': () => zoomAtCentre(0.5),
              '0': () => worldView,
            };
            const move = moves[e.key];
            if (move) {
              e.preventDefault();
              setView(move());
            }
          }}
          onWheel={(e) => {
            e.preventDefault();
            const [x, y] = at(e);
            setView(zoomAt(view, e.deltaY < 0 ? 1.5 : 1 / 1.5, x, y, size.w, size.h));
          }}
          onMouseDown={(e) => {
            drag.current = { x: e.clientX, y: e.clientY, moved: false };
          }}
          onMouseMove={(e) => {
            const d = drag.current;
            if (d && (Math.abs(e.clientX - d.x) > 3 || Math.abs(e.clientY - d.y) > 3)) {
              setView(panBy(view, e.clientX - d.x, e.clientY - d.y, size.w));
              drag.current = { x: e.clientX, y: e.clientY, moved: true };
              return;
            }
            const [x, y] = at(e);
            setHover(clusterAt(visible, x, y, (c) => clusterRadius(c.count) + 2));
          }}
          onMouseUp={(e) => {
            const d = drag.current;
            drag.current = null;
            if (d?.moved) return;
            const [x, y] = at(e);
            const c = clusterAt(visible, x, y, (k) => clusterRadius(k.count) + 2);
            if (c) open(c);
          }}
          onMouseLeave={() => {
            drag.current = null;
            setHover(undefined);
          }}
        />
        {hover && (
          <p
            class="map-tip"
            role="status"
            style={{ left: `${Math.min(size.w - 220, hover.x + 12)}px`, top: `${hover.y + 12}px` }}
          >
            {hover.count === 1 ? loc.names[hover.first] : `${count(hover.count)} sites`}:{' '}
            {tones
              .map((t, i) => (hover.tones[i] ? `${hover.tones[i]} ${t}` : ''))
              .filter(Boolean)
              .join(', ')}
          </p>
        )}
      </div>
      <div class="grid two">
        <section class="card" aria-labelledby="legend-h">
          <h2 id="legend-h">Legend</h2>
          <ul class="plain legend">
            {tones.map((t, i) => (
              <li key={t}>
                <span class="swatch" style={{ background: toneColours[t] }} aria-hidden="true" />{' '}
                {toneLabels[t]}: <strong data-testid={`map-tone-${t}`}>{count(toneTotals[i] ?? 0)}</strong>
              </li>
            ))}
          </ul>
          <p class="note">
            A cluster takes the colour of its most serious member.{' '}
            {loc.unplaced > 0 && `${count(loc.unplaced)} sites have no coordinates and are not shown.`}
          </p>
        </section>
        <section class="card" aria-labelledby="largest-h">
          <h2 id="largest-h">Largest clusters in view</h2>
          <ul class="plain">
            {largest.map((c) => {
              const [lon, lat] = unproject(c.x, c.y, view, size.w, size.h);
              return (
                <li key={`${c.first}`}>
                  <button type="button" class="link" onClick={() => open(c)}>
                    {c.count === 1
                      ? loc.names[c.first]
                      : `${count(c.count)} sites near ${lat.toFixed(1)}°, ${lon.toFixed(1)}°`}
                  </button>
                </li>
              );
            })}
          </ul>
        </section>
      </div>
    </>
  );
}

export function MapPage() {
  // a whole-fleet read: refreshed on request rather than on every event
  const loc = useData(() => get<Locations>('/site-locations'), [], false);
  useEffect(() => {
    const t = setInterval(() => loc.reload(), 30_000);
    return () => clearInterval(t);
  }, []);
  return (
    <section>
      <h1>Map</h1>
      <Show loaded={loc} what="site locations">
        {(l) => <SiteMap loc={l} />}
      </Show>
    </section>
  );
}
