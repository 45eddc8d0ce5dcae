// `keelson status`: a table of the members behind some endpoints (name, ID, leader, term, indexes,
// lag, db size, learner, errors), or the same as JSON with -o json. Exit code 1 when an endpoint did
// not answer, an alarm is raised or there is no agreed leader, so scripts can wait on it.

import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { ClusterError, reportFailure } from './cluster-error.js';
import { defaultEndpoints, parseEndpoints } from './endpoints-option.js';
import { endpointOf, readLayout } from './cluster-layout.js';
import { collectStatus, renderTable, reportJson, type StatusReport } from './cluster-member-status.js';

export type OutputFormat = 'table' | 'json';
export const DEFAULT_DATA = './data';

/**
 * Prints the report; `extra` adds lines under the table, or fields to the JSON object.
 * Sets exit code 1 when the report or the caller found problems.
 */
export function printReport(report: StatusReport, output: OutputFormat, extra: { lines?: string[]; json?: Record<string, unknown>; problems?: string[] } = {}): void {
  const problems = [...report.problems, ...(extra.problems ?? [])];
  if (output === 'json') {
    const obj = { ...reportJson(report), ...extra.json, healthy: problems.length === 0, problems };
    process.stdout.write(`${JSON.stringify(obj, null, 2)}\n`);
  } else {
    const lines = [renderTable(report), ...(extra.lines ?? []), ...problems.map((p) => `problem: ${p}`)];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  if (problems.length > 0) process.exitCode = 1;
}

export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table');
}

interface StatusFlags {
  endpoints?: string[];
  data: string;
  output: OutputFormat;
}

export function statusCommand(): Command {
  const cmd: Command = new Command('status')
    .description('show the members of a keelson (or etcd) cluster: leader, term, indexes, lag, db size')
    .option('--endpoints <list>', 'client endpoints host:port,... (default: the cluster in --data if given, else $ETCDCTL_ENDPOINTS, else the cluster in ./data, else 127.0.0.1:2379)', parseEndpoints)
    .option('--data <dir>', 'the folder of a cluster started by `keelson cluster up`', DEFAULT_DATA)
    .addOption(outputOption())
    .action(async (o: StatusFlags) => {
      try {
        let endpoints: string[];
        let names = new Map<string, string>();
        const dataGiven = cmd.getOptionValueSource('data') === 'cli';
        const layout = o.endpoints === undefined && (dataGiven || process.env['ETCDCTL_ENDPOINTS'] === undefined) ? readLayout(resolve(o.data)) : undefined;
        if (o.endpoints !== undefined) {
          endpoints = o.endpoints;
        } else if (layout) {
          endpoints = layout.masters.map((m) => endpointOf(m.clientUrl));
          names = new Map(layout.masters.map((m) => [endpointOf(m.clientUrl), m.name]));
        } else if (dataGiven) {
          throw new ClusterError('no-cluster', `${resolve(o.data)} holds no cluster (no cluster.json); give --endpoints or the --data of \`keelson cluster up\``);
        } else {
          endpoints = defaultEndpoints();
        }
        printReport(await collectStatus(endpoints, names), o.output);
      } catch (e) {
        reportFailure(e);
      }
    });
  return cmd;
}
