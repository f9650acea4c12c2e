// A time-series chart (uPlot on canvas) with a text summary beside it for screen readers.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  /** unix seconds */
  t: number[];
  v: Array<number | null>;
}

const palette = ['#1f5fa8', '#b3261e', '#2e7d32', '#7a4f01', '#6a1b9a', '#00695c'];

/** Merges series on a shared time axis (uPlot wants one x array). */
function aligned(series: Series[]): uPlot.AlignedData {
  const times = [...new Set(series.flatMap((s) => s.t))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const ys = series.map((s) => {
    const y: Array<number | null> = new Array(times.length).fill(null);
    s.t.forEach((t, i) => {
      y[index.get(t)!] = s.v[i] ?? null;
    });
    return y;
  });
  return [times, ...ys] as uPlot.AlignedData;
}

/**
 * `range` (unix seconds) fixes the time axis, e.g. to the period asked for: with a single time, uPlot
 * would otherwise guess a span of years around it.
 */
export function Chart({
  title,
  series,
  unit,
  range,
}: {
  title: string;
  series: Series[];
  unit?: string;
  range?: [number, number];
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current || series.length === 0) return;
    const width = Math.max(280, Math.min(900, box.current.clientWidth || 600));
    const plot = new uPlot(
      {
        width,
        height: 220,
        series: [
          {},
          ...series.map((s, i) => ({ label: s.label, stroke: palette[i % palette.length], width: 2 })),
        ],
        axes: [{}, { label: unit }],
        ...(range ? { scales: { x: { time: true, range } } } : {}),
      },
      aligned(series),
      box.current,
    );
    return () => plot.destroy();
    // the range is read as numbers so a new array with the same ends does not redraw
  }, [series, unit, range?.[0], range?.[1]]);
  const last = series.map((s) => `${s.label}: ${s.v.length ? s.v[s.v.length - 1] : 'no data'}`).join('; ');
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}. Latest values: ${last || 'no data'}`} />
    </figure>
  );
}
