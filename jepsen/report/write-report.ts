// Writes a run's output folder: history.jsonl, results.json, timeline.html, latency.svg and
// latency-distribution.svg, from the history and the results built from it.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatHistory, type HistoryEntry } from '../history.js';
import { renderLatencyDistributionSvg, renderLatencySvg } from './latency-svg.js';
import { formatResults, type Results } from './results.js';
import { renderTimelineHtml } from './timeline-html.js';

export interface ReportInput {
  entries: readonly HistoryEntry[];
  results: Results;
  title: string;
  subtitle?: string;
  /** Write history.jsonl too (false when the harness streamed it there already). Default true. */
  writeHistory?: boolean;
}

export interface ReportFiles {
  history: string;
  results: string;
  timeline: string;
  latency: string;
  latencyDistribution: string;
}

export async function writeReport(dir: string, r: ReportInput): Promise<ReportFiles> {
  await mkdir(dir, { recursive: true });
  const files: ReportFiles = {
    history: join(dir, 'history.jsonl'),
    results: join(dir, 'results.json'),
    timeline: join(dir, 'timeline.html'),
    latency: join(dir, 'latency.svg'),
    latencyDistribution: join(dir, 'latency-distribution.svg'),
  };
  if (r.writeHistory ?? true) await writeFile(files.history, formatHistory(r.entries));
  await writeFile(files.results, formatResults(r.results));
  const timeline = { title: r.title, entries: r.entries, anomalies: r.results.anomalies, ...(r.subtitle !== undefined ? { subtitle: r.subtitle } : {}) };
  await writeFile(files.timeline, renderTimelineHtml(timeline));
  await writeFile(files.latency, renderLatencySvg(r.entries, { title: `${r.title}: latency` }));
  await writeFile(files.latencyDistribution, renderLatencyDistributionSvg(r.entries, { title: `${r.title}: latency distribution` }));
  return files;
}
