import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface SeriesDef {
  label: string;
  /** A CSS variable name (`--c1`) so the lines follow the theme. */
  color: string;
  scale?: string;
  format?: (v: number) => string;
}

/** Room for the longest tick label of an axis (uPlot cuts labels that do not fit). */
const axisSize = (_u: uPlot, values: string[] | null) => (values?.length ? Math.ceil(Math.max(...values.map((v) => v.length)) * 8 + 22) : 40);

/** Clock times on the x axis: seconds within ten minutes, the date once the span passes two days. */
function timeLabels(u: uPlot, splits: number[]): string[] {
  const span = (u.scales.x?.max ?? 0) - (u.scales.x?.min ?? 0);
  const opts: Intl.DateTimeFormatOptions = span > 2 * 86400 ? { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false } : span <= 600 ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false } : { hour: '2-digit', minute: '2-digit', hour12: false };
  return splits.map((s) => new Date(s * 1000).toLocaleString(undefined, opts));
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/**
 * A uPlot time chart of fixed height (no layout jump when data arrives) that follows its box's width.
 * `data` is uPlot's columns: [seconds[], series1[], …]. The number of points is mirrored in `data-points` so tests
 * and people can see the chart grow.
 */
export function TimeChart(props: { title: string; series: SeriesDef[]; data: (number | null)[][]; height?: number; testId?: string; theme: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const height = props.height ?? 180;

  useEffect(() => {
    const el = box.current!;
    const axisColor = cssVar('--muted');
    const grid = { stroke: cssVar('--grid'), width: 1 };
    const scales = new Set(props.series.map((s) => s.scale ?? 'y'));
    const axes: uPlot.Axis[] = [{ stroke: axisColor, grid, ticks: grid, values: timeLabels, space: 80 }];
    let side = 3;
    for (const sc of scales) {
      const fmt = props.series.find((s) => (s.scale ?? 'y') === sc)?.format;
      axes.push({ scale: sc, side, stroke: axisColor, grid: side === 3 ? grid : { show: false }, ticks: grid, size: axisSize, values: fmt ? (_u, vals) => vals.map((v) => fmt(v)) : undefined });
      side = 1;
    }
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      series: [{}, ...props.series.map((s) => ({ label: s.label, stroke: cssVar(s.color), width: 1.5, scale: s.scale ?? 'y', value: s.format ? (_u: uPlot, v: number | null) => (v === null ? '–' : s.format!(v)) : undefined, points: { show: false } }))],
      axes,
    };
    const u = new uPlot(opts, props.data as uPlot.AlignedData, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // rebuilt when the series or the theme change; data updates go through setData below
  }, [props.series.map((s) => s.label).join('|'), props.theme]);

  useEffect(() => {
    plot.current?.setData(props.data as uPlot.AlignedData);
  }, [props.data]);

  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={box} class="chart-box" style={{ minHeight: `${height + 40}px` }} data-testid={props.testId} data-points={String(props.data[0]?.length ?? 0)} />
    </figure>
  );
}

/** A small SVG line of the last values, fixed size, scaled to its own max (or `max`). */
export function Sparkline(props: { values: number[]; max?: number; label: string }) {
  const w = 80;
  const h = 20;
  const vals = props.values;
  const max = Math.max(props.max ?? 0, ...vals, 1e-9);
  const step = vals.length > 1 ? w / (vals.length - 1) : 0;
  const points = vals.map((v, i) => `${(i * step).toFixed(1)},${(h - 1 - (v / max) * (h - 2)).toFixed(1)}`).join(' ');
  return (
    <svg class="spark" width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label={props.label}>
      {vals.length > 1 ? <polyline points={points} fill="none" stroke="currentColor" stroke-width="1.5" /> : null}
    </svg>
  );
}
