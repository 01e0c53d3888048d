// A uPlot line chart: x in epoch seconds, one series per line, one y scale per unit.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

const colour = (l, i) => l.colour || COLOURS[i % COLOURS.length];

/** lines: [{label, unit, values, dash?, colour?, spanGaps?}], xs: epoch seconds;
 * ranges: fixed [min, max] of some units' scales. */
export function Chart({ xs, lines, height = 260, ranges = {}, testid = 'chart' }) {
  const box = useRef(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const units = [...new Set(lines.map((l) => l.unit || ''))];
    const opts = {
      width: Math.max(300, el.clientWidth),
      height,
      legend: { live: true },
      scales: { x: { time: true }, ...Object.fromEntries(Object.entries(ranges).map(([u, r]) => [u, { range: r }])) },
      series: [{}, ...lines.map((l, i) => ({
        label: l.label,
        scale: l.unit || '',
        stroke: colour(l, i),
        dash: l.dash,
        width: 1.5,
        spanGaps: !!l.spanGaps,
        // sparse series (a fresh plant, a wide range) show their points: a lone bucket
        // between empty ones draws no line
        points: { show: l.values.filter((v) => v !== null).length < 100, size: 5, fill: colour(l, i) },
      }))],
      axes: [{ space: 90 }, ...units.slice(0, 2).map((u, i) => ({
        scale: u, label: u, side: i === 0 ? 3 : 1, grid: { show: i === 0 }, size: 60,
      }))],
    };
    const plot = new uPlot(opts, [xs, ...lines.map((l) => l.values)], el);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(300, el.clientWidth), height }));
    ro.observe(el);
    return () => { ro.disconnect(); plot.destroy(); };
  }, [xs, lines, height]);
  return <div class="chart" ref={box} data-testid={testid} />;
}

export const epoch = (iso) => Date.parse(iso) / 1000;
