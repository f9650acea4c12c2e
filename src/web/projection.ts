// The map's projection: plain equirectangular (longitude and latitude as x and y), which is all a fleet
// map needs and keeps hit-testing and clustering simple. A view is a centre and a zoom; zoom 1 shows
// the whole world across the canvas width.

export interface View {
  lon: number;
  lat: number;
  zoom: number;
}

export const minZoom = 1;
export const maxZoom = 256;
export const worldView: View = { lon: 0, lat: 0, zoom: 1 };

export function pxPerDegree(view: View, width: number): number {
  return (view.zoom * width) / 360;
}

/** Canvas pixel of a coordinate in this view. */
export function project(
  lon: number,
  lat: number,
  view: View,
  width: number,
  height: number,
): [number, number] {
  const k = pxPerDegree(view, width);
  return [width / 2 + (lon - view.lon) * k, height / 2 - (lat - view.lat) * k];
}

/** The coordinate under a canvas pixel. */
export function unproject(x: number, y: number, view: View, width: number, height: number): [number, number] {
  const k = pxPerDegree(view, width);
  return [view.lon + (x - width / 2) / k, view.lat - (y - height / 2) / k];
}

/** Keeps the zoom in range and the centre where some of the world stays in sight. */
export function clampView(view: View): View {
  const zoom = Math.min(maxZoom, Math.max(minZoom, view.zoom));
  return {
    zoom,
    lon: Math.min(180, Math.max(-180, view.lon)),
    lat: Math.min(90, Math.max(-90, view.lat)),
  };
}

/** Zooms by `factor` keeping the coordinate under pixel (x, y) where it is. */
export function zoomAt(
  view: View,
  factor: number,
  x: number,
  y: number,
  width: number,
  height: number,
): View {
  const [lon, lat] = unproject(x, y, view, width, height);
  const zoom = Math.min(maxZoom, Math.max(minZoom, view.zoom * factor));
  const k = (zoom * width) / 360;
  return clampView({ zoom, lon: lon - (x - width / 2) / k, lat: lat + (y - height / 2) / k });
}

/** Moves the view by a number of pixels. */
export function panBy(view: View, dx: number, dy: number, width: number): View {
  const k = pxPerDegree(view, width);
  return clampView({ ...view, lon: view.lon - dx / k, lat: view.lat + dy / k });
}

/**
 * A polygon ring made drawable on a flat map: where it crosses the antimeridian its longitudes are
 * made continuous (some then lie beyond ±180), and a ring that goes round a pole is closed along that
 * pole, so filling it paints no band across the world. Draw the result at each of `copies` offsets.
 *
 * @example drawableRing([[170, 0], [-170, 0], [-170, 5], [170, 5]]).copies // [0, -360]
 */
export function drawableRing(ring: ReadonlyArray<readonly number[]>): {
  points: number[][];
  copies: number[];
} {
  const points: number[][] = [];
  let shift = 0;
  let crossings = 0;
  let prev: number | undefined;
  for (const [lon = 0, lat = 0] of ring) {
    if (prev !== undefined) {
      const d = lon + shift - prev;
      if (d > 180) {
        shift -= 360;
        crossings++;
      } else if (d < -180) {
        shift += 360;
        crossings++;
      }
    }
    prev = lon + shift;
    points.push([prev, lat]);
  }
  // a ring round a pole never comes back to its starting longitude: close it along the pole
  if (crossings % 2 === 1 && points.length > 0) {
    const pole = points.reduce((s, p) => s + p[1]!, 0) < 0 ? -90 : 90;
    points.push([points[points.length - 1]![0]!, pole], [points[0]![0]!, pole]);
  }
  const lons = points.map((p) => p[0]!);
  const copies = [0];
  if (Math.max(...lons) > 180) copies.push(-360);
  if (Math.min(...lons) < -180) copies.push(360);
  return { points, copies };
}
