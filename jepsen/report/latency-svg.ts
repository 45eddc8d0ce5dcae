// Latency plots as standalone SVG documents (no scripts, no external assets):
//  - renderLatencySvg: every operation as a point, latency (log scale) against the time it was
//    invoked, coloured by outcome and shaped by operation type, with fault periods shaded and
//    named — the plot that shows what a partition or a kill did to the clients;
//  - renderLatencyDistributionSvg: per operation type and outcome, latency at the usual
//    percentiles (log scale).
// Points carry <title> children, so hovering one names the operation.

import { faultPeriods, historySpan, pairOperations, type CompletionType, type HistoryEntry, type Operation } from '../history.js';
import { latencyOf, latencySummaries, PERCENTILES } from './latency-stats.js';
import { el, fmt, formatDuration, text } from './markup.js';

export interface LatencyPlotOptions {
  title?: string;
  width?: number;
  height?: number;
  /** Bound on points drawn; past it operations are sampled evenly (the plot says so). Default 20000. */
  maxPoints?: number;
}

const COLOR: Record<CompletionType, string> = { ok: '#2e8b3e', fail: '#c0392b', info: '#e08a00' };
const SHAPES = ['circle', 'square', 'triangle', 'diamond', 'triangle-down', 'cross'] as const;
const MIN_LATENCY = 0.01; // ms: the floor of the log scale
const M = { left: 70, right: 200, top: 40, bottom: 46 };

/** One marker of the given shape centred at (x, y). */
function marker(shape: (typeof SHAPES)[number], x: number, y: number, r: number, attrs: Record<string, string | number>, title: string): string {
  const t = el('title', {}, text(title));
  switch (shape) {
    case 'circle':
      return el('circle', { ...attrs, cx: x, cy: y, r }, t);
    case 'square':
      return el('rect', { ...attrs, x: x - r, y: y - r, width: 2 * r, height: 2 * r }, t);
    case 'triangle':
      return el('path', { ...attrs, d: `M${fmt(x)} ${fmt(y - r)}L${fmt(x + r)} ${fmt(y + r)}L${fmt(x - r)} ${fmt(y + r)}Z` }, t);
    case 'triangle-down':
      return el('path', { ...attrs, d: `M${fmt(x)} ${fmt(y + r)}L${fmt(x + r)} ${fmt(y - r)}L${fmt(x - r)} ${fmt(y - r)}Z` }, t);
    case 'diamond':
      return el('path', { ...attrs, d: `M${fmt(x)} ${fmt(y - r)}L${fmt(x + r)} ${fmt(y)}L${fmt(x)} ${fmt(y + r)}L${fmt(x - r)} ${fmt(y)}Z` }, t);
    case 'cross':
      return el('path', { ...attrs, d: `M${fmt(x - r)} ${fmt(y - r)}L${fmt(x + r)} ${fmt(y + r)}M${fmt(x - r)} ${fmt(y + r)}L${fmt(x + r)} ${fmt(y - r)}`, 'stroke-width': 1.5 }, t);
  }
}

interface LogScale {
  lo: number; // log10 of the bottom
  hi: number; // log10 of the top
  y: (ms: number) => number;
}

function logScale(values: readonly number[], top: number, bottom: number): LogScale {
  const pos = values.map((v) => Math.max(MIN_LATENCY, v));
  const lo = pos.length === 0 ? -1 : Math.floor(Math.log10(Math.min(...pos)));
  let hi = pos.length === 0 ? 3 : Math.ceil(Math.log10(Math.max(...pos)));
  if (hi <= lo) hi = lo + 1;
  return { lo, hi, y: (ms) => bottom - ((Math.log10(Math.max(MIN_LATENCY, ms)) - lo) / (hi - lo)) * (bottom - top) };
}

function yAxis(s: LogScale, left: number, right: number): string {
  const parts: string[] = [];
  for (let e = s.lo; e <= s.hi; e++) {
    const y = s.y(10 ** e);
    parts.push(el('line', { class: 'grid', x1: left, x2: right, y1: y, y2: y, stroke: '#ddd' }));
    parts.push(el('text', { class: 'ytick', x: left - 6, y: y + 4, 'text-anchor': 'end', 'font-size': 11 }, text(formatDuration(10 ** e))));
  }
  return el('g', { class: 'y-axis' }, ...parts);
}

function niceStep(range: number, target: number): number {
  const raw = range / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function svgDocument(width: number, height: number, title: string, ...children: string[]): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    el(
      'svg',
      { xmlns: 'http://www.w3.org/2000/svg', width, height, viewBox: `0 0 ${width} ${height}`, 'font-family': 'system-ui, sans-serif' },
      el('title', {}, text(title)),
      el('rect', { class: 'background', x: 0, y: 0, width, height, fill: '#fff' }),
      el('text', { class: 'heading', x: M.left, y: 22, 'font-size': 15, 'font-weight': 600 }, text(title)),
      ...children,
    ) +
    '\n'
  );
}

interface Series {
  f: string;
  type: CompletionType;
  ops: Operation[];
}

function seriesOf(ops: readonly Operation[]): { series: Series[]; shapeOf: Map<string, (typeof SHAPES)[number]> } {
  const fs = [...new Set(ops.map((o) => o.f))].sort();
  const shapeOf = new Map(fs.map((f, i) => [f, SHAPES[i % SHAPES.length] as (typeof SHAPES)[number]]));
  const map = new Map<string, Series>();
  for (const op of ops) {
    const k = `${op.f}\u0000${op.type}`;
    let s = map.get(k);
    if (s === undefined) map.set(k, (s = { f: op.f, type: op.type, ops: [] }));
    s.ops.push(op);
  }
  const order = { ok: 0, fail: 1, info: 2 };
  const series = [...map.values()].sort((a, b) => (a.f < b.f ? -1 : a.f > b.f ? 1 : order[a.type] - order[b.type]));
  return { series, shapeOf };
}

function legend(series: readonly Series[], shapeOf: Map<string, (typeof SHAPES)[number]>, x: number, y: number, label: (s: Series) => string): string {
  return el(
    'g',
    { class: 'legend' },
    ...series.map((s, i) =>
      el(
        'g',
        { class: 'legend-item', 'data-f': s.f, 'data-type': s.type },
        marker(shapeOf.get(s.f) ?? 'circle', x + 6, y + i * 18, 5, { fill: COLOR[s.type], stroke: COLOR[s.type] }, label(s)),
        el('text', { x: x + 16, y: y + i * 18 + 4, 'font-size': 12 }, text(label(s))),
      ),
    ),
  );
}

export function renderLatencySvg(entries: readonly HistoryEntry[], o: LatencyPlotOptions = {}): string {
  const width = o.width ?? 960;
  const height = o.height ?? 440;
  const title = o.title ?? 'Latency over time';
  const ops = pairOperations(entries).filter((op) => latencyOf(op) !== undefined);
  // History times are milliseconds since the run started: the axis starts at 0.
  const t0 = 0;
  const duration = Math.max(1, historySpan(entries).end - t0);
  const left = M.left;
  const right = width - M.right;
  const top = M.top;
  const bottom = height - M.bottom;
  const x = (t: number): number => left + ((t - t0) / duration) * (right - left);
  const scale = logScale(ops.map((op) => latencyOf(op) as number), top, bottom);

  const maxPoints = o.maxPoints ?? 20_000;
  const stride = Math.max(1, Math.ceil(ops.length / maxPoints));
  const { series, shapeOf } = seriesOf(ops);

  const faults = faultPeriods(entries).map((f, i) =>
    el(
      'g',
      { class: 'fault', 'data-kind': f.kind, 'data-targets': f.targets.join(' ') },
      el('rect', { x: x(f.start), y: top, width: Math.max(1, x(f.end) - x(f.start)), height: bottom - top, fill: '#5a5aff', 'fill-opacity': 0.12, stroke: '#5a5aff', 'stroke-opacity': 0.4, 'stroke-dasharray': '3 2' }),
      el('text', { class: 'fault-label', x: x(f.start) + 3, y: top + 12 + (i % 3) * 12, 'font-size': 11, fill: '#33a' }, text(`${f.kind} ${f.targets.join(',')}`)),
      el('title', {}, text(`${f.kind} ${f.targets.join(', ')}: ${formatDuration(f.start - t0)} – ${formatDuration(f.end - t0)}`)),
    ),
  );

  const xTicks: string[] = [];
  const step = niceStep(duration, 8);
  for (let t = 0; t <= duration + 1e-9; t += step) {
    const px = x(t0 + t);
    xTicks.push(el('line', { x1: px, x2: px, y1: bottom, y2: bottom + 5, stroke: '#555' }));
    xTicks.push(el('text', { class: 'xtick', x: px, y: bottom + 18, 'text-anchor': 'middle', 'font-size': 11 }, text(formatDuration(t))));
  }

  let seq = 0;
  const points = series.map((s) =>
    el(
      'g',
      { class: 'series', 'data-f': s.f, 'data-type': s.type },
      ...s.ops
        .filter(() => seq++ % stride === 0)
        .map((op) => {
          const l = latencyOf(op) as number;
          return marker(
            shapeOf.get(op.f) ?? 'circle',
            x(op.call),
            scale.y(l),
            3,
            { class: `pt ${op.type}`, 'data-index': op.index, fill: COLOR[op.type], 'fill-opacity': 0.7, stroke: COLOR[op.type] },
            `#${op.index} ${op.f}${op.key !== undefined ? ` ${op.key}` : ''} ${op.type}: ${formatDuration(l)} at ${formatDuration(op.call - t0)}${op.node !== undefined ? ` (node ${op.node})` : ''}`,
          );
        }),
    ),
  );

  const note = stride > 1 ? el('text', { class: 'note', x: left, y: height - 6, 'font-size': 11, fill: '#a60' }, text(`every ${stride}th of ${ops.length} operations drawn`)) : '';
  const empty = ops.length === 0 ? el('text', { x: (left + right) / 2, y: (top + bottom) / 2, 'text-anchor': 'middle', fill: '#888' }, text('no completed operations')) : '';
  return svgDocument(
    width,
    height,
    title,
    yAxis(scale, left, right),
    el('g', { class: 'faults' }, ...faults),
    el('g', { class: 'x-axis' }, el('line', { x1: left, x2: right, y1: bottom, y2: bottom, stroke: '#555' }), ...xTicks),
    el('line', { x1: left, x2: left, y1: top, y2: bottom, stroke: '#555' }),
    el('text', { x: (left + right) / 2, y: height - 20 + 14, 'text-anchor': 'middle', 'font-size': 12 }, text('time since start')),
    el('text', { x: 14, y: (top + bottom) / 2, 'font-size': 12, transform: `rotate(-90 14 ${fmt((top + bottom) / 2)})`, 'text-anchor': 'middle' }, text('latency (log)')),
    el('g', { class: 'points' }, ...points),
    legend(series, shapeOf, right + 14, top + 6, (s) => `${s.f} ${s.type} (${s.ops.length})`),
    note,
    empty,
  );
}

export function renderLatencyDistributionSvg(entries: readonly HistoryEntry[], o: LatencyPlotOptions = {}): string {
  const width = o.width ?? 760;
  const height = o.height ?? 420;
  const title = o.title ?? 'Latency distribution';
  const ops = pairOperations(entries);
  const summaries = latencySummaries(ops);
  const left = M.left;
  const right = width - M.right;
  const top = M.top;
  const bottom = height - M.bottom;
  const scale = logScale(summaries.flatMap((s) => s.percentiles), top, bottom);
  const x = (i: number): number => left + 20 + (i / (PERCENTILES.length - 1)) * (right - left - 40);
  const label = (q: number): string => (q === 1 ? 'max' : `p${fmt(q * 100)}`);
  const { series, shapeOf } = seriesOf(ops.filter((op) => latencyOf(op) !== undefined));

  const xTicks = PERCENTILES.map((q, i) =>
    el('text', { class: 'xtick', x: x(i), y: bottom + 18, 'text-anchor': 'middle', 'font-size': 11 }, text(label(q))),
  );
  const lines = summaries.map((s) => {
    const pts = s.percentiles.map((v, i) => `${fmt(x(i))},${fmt(scale.y(v))}`).join(' ');
    return el(
      'g',
      { class: 'series', 'data-f': s.f, 'data-type': s.type },
      el('polyline', { points: pts, fill: 'none', stroke: COLOR[s.type], 'stroke-width': 1.5, 'stroke-opacity': 0.8 }),
      ...s.percentiles.map((v, i) =>
        marker(shapeOf.get(s.f) ?? 'circle', x(i), scale.y(v), 4, { class: `pt ${s.type}`, fill: COLOR[s.type], stroke: COLOR[s.type] }, `${s.f} ${s.type} ${label(PERCENTILES[i] as number)}: ${formatDuration(v)} (${s.count} ops)`),
      ),
    );
  });
  const empty = summaries.length === 0 ? el('text', { x: (left + right) / 2, y: (top + bottom) / 2, 'text-anchor': 'middle', fill: '#888' }, text('no completed operations')) : '';
  return svgDocument(
    width,
    height,
    title,
    yAxis(scale, left, right),
    el('g', { class: 'x-axis' }, el('line', { x1: left, x2: right, y1: bottom, y2: bottom, stroke: '#555' }), ...xTicks),
    el('line', { x1: left, x2: left, y1: top, y2: bottom, stroke: '#555' }),
    el('g', { class: 'lines' }, ...lines),
    legend(series, shapeOf, right + 14, top + 6, (s) => `${s.f} ${s.type} (${s.ops.length})`),
    empty,
  );
}
