// timeline.html: one self-contained page (no scripts, no external assets) showing the run as
// Jepsen's timeline does: one lane per client, time flowing right, each operation a bar from
// invocation to completion coloured by outcome, fault periods shaded across all lanes with
// their names, anomalies listed at the top with links to their operations, which are outlined.
// Hovering a bar shows the operation in full (title attribute). The markup is well-formed XML.

import { faultPeriods, historySpan, pairOperations, type HistoryEntry, type Operation, type ProcessId } from '../history.js';
import { el, fmt, formatDuration, text } from './markup.js';
import type { Anomaly } from './results.js';

export interface TimelineOptions {
  title: string;
  entries: readonly HistoryEntry[];
  anomalies?: readonly Anomaly[];
  /** A line under the title (workload, nemesis, seed, ...). */
  subtitle?: string;
  /** Horizontal scale. Default: the run fits in about 16000 px, within [0.02, 4] px per ms. */
  pxPerMs?: number;
  /** Bound on the operations drawn (the earliest are kept; the page says when some were not). Default 40000. */
  maxOps?: number;
}

const LANE_H = 18;
const LABEL_W = 110;
const AXIS_H = 22;
const FAULT_ROW_H = 15;
const VALUE_CHARS = 160;

const STYLE = `
body{font:13px system-ui,sans-serif;margin:16px;color:#222;background:#fff}
h1{font-size:18px;margin:0 0 4px}
.sub,.summary{color:#555;margin:2px 0}
#anomalies{margin:12px 0;padding:8px 12px;border:1px solid #d33;background:#fff5f5}
#anomalies.none{border-color:#3a3;background:#f5fff5}
#anomalies h2{font-size:15px;margin:0 0 6px}
#anomalies li{margin:4px 0}
#anomalies a{color:#b00;margin-right:4px}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:22px;height:10px;margin-right:4px;vertical-align:middle;border-radius:2px}
.scroll{overflow-x:auto;border:1px solid #ccc;margin-top:8px}
.timeline{position:relative}
.axis{position:absolute;left:0;top:0;height:22px;right:0;border-bottom:1px solid #999}
.tick{position:absolute;top:0;height:22px;border-left:1px solid #bbb;padding-left:3px;font-size:11px;color:#555;white-space:nowrap}
.fault{position:absolute;background:rgba(90,90,255,0.13);border-left:1px dashed #55f;border-right:1px dashed #55f}
.fault-label{position:absolute;left:2px;font-size:11px;color:#33a;white-space:nowrap;font-weight:600}
.lane{position:absolute;left:0;height:18px;border-bottom:1px solid #f0f0f0}
.lane-label{position:sticky;left:0;display:inline-block;width:104px;padding-left:4px;font-size:11px;line-height:18px;background:#fafafa;z-index:3;overflow:hidden;white-space:nowrap}
.op{position:absolute;top:2px;height:13px;border-radius:2px;font-size:10px;line-height:13px;overflow:hidden;white-space:nowrap;color:#123;box-sizing:border-box}
.op.ok{background:#8fd18f;border:1px solid #4a9a4a}
.op.fail{background:#f19999;border:1px solid #c0392b}
.op.info{background:repeating-linear-gradient(45deg,#ffd8a0,#ffd8a0 4px,#fff1dc 4px,#fff1dc 8px);border:1px dashed #d08a1c}
.op.anomalous{outline:3px solid #e00;outline-offset:1px;z-index:2}
.op:target{outline:3px solid #000}
.note{color:#a60}
`;

function describeValue(v: unknown): string {
  const s = JSON.stringify(v) ?? 'null';
  return s.length > VALUE_CHARS ? `${s.slice(0, VALUE_CHARS)}…` : s;
}

function opTitle(op: Operation, t0: number): string {
  const lines = [
    `#${op.index} process ${op.process} · ${op.f}${op.key !== undefined ? ` ${op.key}` : ''} → ${op.type}`,
    `value: ${describeValue(op.value)}`,
  ];
  if (op.type !== 'fail' || op.result !== null) lines.push(`result: ${describeValue(op.result)}`);
  lines.push(`invoked ${formatDuration(op.call - t0)}, ${op.type === 'info' ? 'gave up' : 'completed'} ${formatDuration(op.end - t0)} (${formatDuration(op.end - op.call)})`);
  if (op.node !== undefined) lines.push(`node ${op.node}`);
  if (op.error !== undefined) lines.push(`error: ${op.error}`);
  return lines.join('\n');
}

function opLabel(op: Operation): string {
  const v = op.f === 'read' ? op.result : op.value;
  const s = `${op.f}${op.key !== undefined ? ` ${op.key}` : ''} ${JSON.stringify(v) ?? ''}`;
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** A tick step of 1, 2 or 5 × 10^k ms giving about `target` px between ticks. */
function tickStep(pxPerMs: number, target = 110): number {
  const raw = target / pxPerMs;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function compareProcess(a: ProcessId, b: ProcessId): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function renderTimelineHtml(o: TimelineOptions): string {
  const all = pairOperations(o.entries);
  const maxOps = o.maxOps ?? 40_000;
  const ops = all.slice(0, maxOps);
  const faults = faultPeriods(o.entries);
  // History times are milliseconds since the run started: the axis starts at 0, not at the first record.
  const span = historySpan(o.entries);
  const t0 = 0;
  const duration = Math.max(1, span.end - t0);
  const px = o.pxPerMs ?? Math.min(4, Math.max(0.02, 16_000 / duration));
  const x = (t: number): number => LABEL_W + (Math.min(t, span.end) - t0) * px;
  const anomalies = o.anomalies ?? [];
  const flagged = new Set<number>();
  for (const a of anomalies) for (const i of a.ops) flagged.add(i);

  // Fault labels go in rows so overlapping faults stay readable.
  const rowEnds: number[] = [];
  const faultRows = faults.map((f) => {
    let row = rowEnds.findIndex((end) => end <= f.start);
    if (row < 0) row = rowEnds.push(0) - 1;
    rowEnds[row] = Math.max(f.end, f.start + 140 / px);
    return row;
  });
  const faultBand = rowEnds.length * FAULT_ROW_H;

  const processes = [...new Set(all.map((op) => op.process))].sort(compareProcess);
  const laneOf = new Map(processes.map((p, i) => [p, i]));
  const top = AXIS_H + faultBand;
  const width = Math.ceil(x(span.end) + 40);
  const height = top + processes.length * LANE_H + 8;

  const ticks: string[] = [];
  const step = tickStep(px);
  for (let t = 0; t <= duration; t += step) ticks.push(el('div', { class: 'tick', style: `left:${fmt(LABEL_W + t * px)}px` }, text(formatDuration(t))));

  const faultEls = faults.map((f, i) =>
    el(
      'div',
      {
        class: `fault fault-${f.kind.replace(/[^a-zA-Z0-9_-]/g, '_')}`,
        'data-kind': f.kind,
        'data-targets': f.targets.join(' '),
        style: `left:${fmt(x(f.start))}px;width:${fmt(Math.max(2, (f.end - f.start) * px))}px;top:${AXIS_H}px;height:${height - AXIS_H}px`,
        title: `${f.kind} ${f.targets.join(', ')}\nfrom ${formatDuration(f.start - t0)} to ${formatDuration(f.end - t0)}${f.endIndex === undefined ? ' (still active at the end)' : ''}`,
      },
      el('span', { class: 'fault-label', style: `top:${(faultRows[i] as number) * FAULT_ROW_H}px` }, text(`${f.kind} ${f.targets.join(',')}`)),
    ),
  );

  const byLane = new Map<ProcessId, string[]>();
  for (const op of ops) {
    const left = x(op.call);
    const w = Math.max(2, x(op.end) - left);
    const cls = `op ${op.type}${flagged.has(op.index) ? ' anomalous' : ''}`;
    const bar = el(
      'div',
      { id: `op-${op.index}`, class: cls, 'data-index': op.index, 'data-f': op.f, style: `left:${fmt(left)}px;width:${fmt(w)}px`, title: opTitle(op, t0) },
      w >= 44 ? text(opLabel(op)) : '',
    );
    const list = byLane.get(op.process);
    if (list === undefined) byLane.set(op.process, [bar]);
    else list.push(bar);
  }
  const lanes = processes.map((p) =>
    el(
      'div',
      { class: 'lane', 'data-process': String(p), style: `top:${top + (laneOf.get(p) as number) * LANE_H}px;width:${width}px` },
      el('span', { class: 'lane-label' }, text(typeof p === 'number' ? `client ${p}` : p)),
      ...(byLane.get(p) ?? []),
    ),
  );

  const counts = { ok: 0, fail: 0, info: 0 };
  for (const op of all) counts[op.type]++;
  const anomalyList =
    anomalies.length === 0
      ? el('section', { id: 'anomalies', class: 'none' }, el('h2', {}, text('No anomalies found')))
      : el(
          'section',
          { id: 'anomalies' },
          el('h2', {}, text(`${anomalies.length} anomal${anomalies.length === 1 ? 'y' : 'ies'}`)),
          el(
            'ol',
            {},
            ...anomalies.map((a) =>
              el(
                'li',
                { class: 'anomaly', 'data-checker': a.checker, 'data-type': a.type, 'data-ops': a.ops.join(' ') },
                el('strong', {}, text(`${a.checker} · ${a.type}${a.key !== undefined ? ` · key ${a.key}` : ''}`)),
                text(' '),
                el('span', { class: 'message' }, text(a.message)),
                text(' — ops: '),
                ...a.ops.map((i) => el('a', { href: `#op-${i}` }, text(String(i)))),
              ),
            ),
          ),
        );
  const legend = el(
    'p',
    { class: 'legend' },
    el('span', {}, el('i', { class: 'op ok', style: 'position:static' }), text('ok')),
    el('span', {}, el('i', { class: 'op fail', style: 'position:static' }), text('fail (did not happen)')),
    el('span', {}, el('i', { class: 'op info', style: 'position:static' }), text('info (indeterminate)')),
    el('span', {}, el('i', { class: 'fault', style: 'position:static' }), text('fault')),
    el('span', {}, el('i', { class: 'op anomalous', style: 'position:static;background:#fff' }), text('in an anomaly')),
  );
  const truncated =
    all.length > ops.length ? el('p', { class: 'note' }, text(`Only the first ${ops.length} of ${all.length} operations are drawn.`)) : '';

  const body = el(
    'body',
    {},
    el('h1', {}, text(o.title)),
    o.subtitle !== undefined ? el('p', { class: 'sub' }, text(o.subtitle)) : '',
    el(
      'p',
      { class: 'summary' },
      text(`${all.length} operations (${counts.ok} ok, ${counts.fail} fail, ${counts.info} info) by ${processes.length} clients over ${formatDuration(duration)}; ${faults.length} fault periods.`),
    ),
    anomalyList,
    legend,
    truncated,
    el(
      'div',
      { class: 'scroll' },
      el('div', { class: 'timeline', style: `width:${width}px;height:${height}px` }, el('div', { class: 'axis' }, ...ticks), ...faultEls, ...lanes),
    ),
  );
  return (
    '<!DOCTYPE html>\n' +
    el(
      'html',
      { xmlns: 'http://www.w3.org/1999/xhtml', lang: 'en' },
      el('head', {}, el('meta', { charset: 'utf-8' }), el('title', {}, text(o.title)), el('style', {}, STYLE)),
      body,
    ) +
    '\n'
  );
}
