// DIR/chart.svg: the keelson/etcd (or keelson/baseline) throughput ratio per suite (log scale, 1.0
// and, against etcd, the goal marked), and each suite's latency distribution for both
// targets (latency on a log scale against the quantile on a "nines" scale: p0, p90, p99, p99.9).
// Plain SVG 1.1, no scripts or fonts.

import { RATIO_GOALS, fmtRatio } from './report-md.js';
import { ratioFor, referenceTarget, type BenchResult, type BenchResults, type SuiteName, type TargetName } from './results.js';

const WIDTH = 960;
const COLORS: Record<TargetName, string> = { etcd: '#4c72b0', keelson: '#dd8452', baseline: '#55a868' };
const FONT = 'font-family="sans-serif"';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function f(n: number): string {
  return (Math.round(n * 10) / 10).toString();
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${f(x)}" y="${f(y)}" ${FONT} ${attrs}>${esc(s)}</text>`;
}

// ---- ratios ----

const RATIO_MIN_LOG2 = -5; // 1/32
const RATIO_MAX_LOG2 = 5; // 32

function ratioSection(res: BenchResults, suites: SuiteName[], top: number): { svg: string[]; height: number } {
  const left = 150;
  const right = WIDTH - 90;
  const rowH = 24;
  const x = (r: number) => {
    const l = Math.min(RATIO_MAX_LOG2, Math.max(RATIO_MIN_LOG2, Math.log2(r)));
    return left + ((l - RATIO_MIN_LOG2) / (RATIO_MAX_LOG2 - RATIO_MIN_LOG2)) * (right - left);
  };
  const out: string[] = [];
  const ref = referenceTarget(res.config.targets);
  const title = `Throughput ratio keelson / ${ref} (log scale; right of 1 = keelson faster${ref === 'etcd' ? '; | = goal' : ''})`;
  out.push(text(20, top + 18, title, 'font-size="15" font-weight="bold"'));
  const plotTop = top + 32;
  const plotBottom = plotTop + suites.length * rowH;
  for (let l = RATIO_MIN_LOG2; l <= RATIO_MAX_LOG2; l++) {
    const gx = x(2 ** l);
    out.push(`<line x1="${f(gx)}" y1="${f(plotTop)}" x2="${f(gx)}" y2="${f(plotBottom)}" stroke="${l === 0 ? '#333' : '#ddd'}" stroke-width="${l === 0 ? 1.5 : 1}"/>`);
    const label = l >= 0 ? `${2 ** l}` : `1/${2 ** -l}`;
    out.push(text(gx, plotBottom + 14, label, 'font-size="11" text-anchor="middle" fill="#555"'));
  }
  suites.forEach((s, i) => {
    const y = plotTop + i * rowH;
    out.push(text(left - 8, y + rowH / 2 + 4, s, 'font-size="12" text-anchor="end"'));
    const r = ratioFor(res.results, s, ref);
    // The goals are against etcd.
    const goal = ref === 'etcd' ? RATIO_GOALS[s] : undefined;
    if (r === undefined) {
      out.push(text(left + 6, y + rowH / 2 + 4, 'n/a (not measured on both targets)', 'font-size="11" fill="#888"'));
    } else {
      const x0 = Math.min(x(1), x(r));
      const w = Math.max(1, Math.abs(x(r) - x(1)));
      const ok = r >= (goal ?? 1);
      out.push(`<rect x="${f(x0)}" y="${f(y + 4)}" width="${f(w)}" height="${rowH - 8}" fill="${ok ? '#55a868' : '#c44e52'}"/>`);
      out.push(text(Math.max(x(1), x(r)) + 6, y + rowH / 2 + 4, fmtRatio(r), 'font-size="11"'));
    }
    if (goal !== undefined) {
      const gx = x(goal);
      out.push(`<line x1="${f(gx)}" y1="${f(y + 1)}" x2="${f(gx)}" y2="${f(y + rowH - 1)}" stroke="#000" stroke-width="2"/>`);
    }
  });
  return { svg: out, height: plotBottom + 24 - top };
}

// ---- latency distributions ----

const MAX_NINES = 3;

function nines(q: number): number {
  return q >= 1 ? MAX_NINES : Math.min(MAX_NINES, -Math.log10(1 - q));
}

function panel(results: BenchResult[], suite: SuiteName, px: number, py: number, pw: number, ph: number): string[] {
  const out: string[] = [];
  const l = px + 44;
  const r = px + pw - 8;
  const t = py + 22;
  const b = py + ph - 22;
  out.push(text(px + pw / 2, py + 14, suite, 'font-size="12" font-weight="bold" text-anchor="middle"'));
  out.push(`<rect x="${f(l)}" y="${f(t)}" width="${f(r - l)}" height="${f(b - t)}" fill="none" stroke="#bbb"/>`);
  const series = results.map((res) => ({
    target: res.target,
    points: res.latency.filter((p) => p.q < 1 && nines(p.q) <= MAX_NINES).map((p) => ({ x: nines(p.q), ms: Math.max(0.001, p.ms) })),
  }));
  const all = series.flatMap((s) => s.points.map((p) => p.ms));
  if (all.length === 0) {
    out.push(text((l + r) / 2, (t + b) / 2, 'no data', 'font-size="11" fill="#888" text-anchor="middle"'));
    return out;
  }
  const lo = Math.floor(Math.log10(Math.min(...all)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...all))));
  const x = (n: number) => l + (n / MAX_NINES) * (r - l);
  const y = (msv: number) => b - ((Math.log10(msv) - lo) / (hi - lo)) * (b - t);
  for (let d = lo; d <= hi; d++) {
    const gy = y(10 ** d);
    out.push(`<line x1="${f(l)}" y1="${f(gy)}" x2="${f(r)}" y2="${f(gy)}" stroke="#eee"/>`);
    out.push(text(l - 4, gy + 4, `${10 ** d >= 1 ? 10 ** d : (10 ** d).toFixed(-d)} ms`, 'font-size="9" text-anchor="end" fill="#555"'));
  }
  ['p0', 'p90', 'p99', 'p99.9'].forEach((label, n) => {
    out.push(text(x(n), b + 12, label, 'font-size="9" text-anchor="middle" fill="#555"'));
  });
  for (const s of series) {
    if (s.points.length === 0) continue;
    const pts = s.points.map((p) => `${f(x(p.x))},${f(y(p.ms))}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${COLORS[s.target]}" stroke-width="2"/>`);
  }
  // apiserver-watch: the API server's peak memory next to its latency.
  results.forEach((res, i) => {
    if (res.apiServerRssMb === undefined) return;
    out.push(text(l + 4, t + 11 + i * 11, `${res.target} API server RSS ${res.apiServerRssMb} MB`, `font-size="9" fill="${COLORS[res.target]}"`));
  });
  return out;
}

function latencySection(res: BenchResults, suites: SuiteName[], top: number): { svg: string[]; height: number } {
  const out: string[] = [];
  const unitNote = 'put-to-event for watch suites';
  out.push(text(20, top + 18, `Latency distribution (ms, log scale, by quantile; ${unitNote})`, 'font-size="15" font-weight="bold"'));
  let lx = WIDTH - 220;
  for (const tname of [referenceTarget(res.config.targets), 'keelson'] as const) {
    out.push(`<rect x="${lx}" y="${top + 8}" width="14" height="4" fill="${COLORS[tname]}"/>`);
    out.push(text(lx + 18, top + 14, tname, 'font-size="12"'));
    lx += 90;
  }
  const cols = 4;
  const pw = (WIDTH - 20) / cols;
  const ph = 170;
  suites.forEach((s, i) => {
    const px = 10 + (i % cols) * pw;
    const py = top + 28 + Math.floor(i / cols) * ph;
    out.push(...panel(res.results.filter((r) => r.suite === s), s, px, py, pw, ph));
  });
  return { svg: out, height: 28 + Math.ceil(suites.length / cols) * ph + 10 };
}

export function renderChart(res: BenchResults): string {
  const suites = res.config.suites.filter((s) => res.results.some((r) => r.suite === s));
  const head = 40;
  const ratios = ratioSection(res, suites, head);
  const lat = latencySection(res, suites, head + ratios.height + 10);
  const height = Math.ceil(head + ratios.height + 10 + lat.height);
  const title = `keelson bench: ${res.config.targets.join(' vs ')}, ${res.config.members} member(s), profile ${res.config.profile}, ${res.startedAt}`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">`,
    `<title>${esc(title)}</title>`,
    `<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#fff"/>`,
    text(20, 26, title, 'font-size="16"'),
    ...ratios.svg,
    ...lat.svg,
    '</svg>',
    '',
  ].join('\n');
}
