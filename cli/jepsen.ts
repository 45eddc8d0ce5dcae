// `keelson jepsen`: a Jepsen-style fault-injection run against a fresh three-member cluster of
// keelson (or a real etcd 3.4 with --target etcd). Exit code 0: valid; 1: an anomaly was found;
// 2: the run failed or the checkers could not decide (see jepsen/README.md). Usage errors exit
// with 2 as well, so 1 always means "anomaly".

import { Command, InvalidArgumentError, Option, type CommanderError } from 'commander';
import { WORKLOADS, type Workload } from '../jepsen/analysis.js';
import { targetByName, TARGETS, type TargetName } from '../jepsen/cluster/targets.js';
import { parseNemeses, type NemesisKind } from '../jepsen/nemesis/fault-plan.js';
import { runJepsen } from '../jepsen/run/jepsen-run.js';
import { READ_MODES, type ReadMode } from '../jepsen/workload/workload.js';
import { intArg } from './arg-parsers.js';

interface JepsenFlags {
  time: number;
  workload: Workload;
  nemesis: NemesisKind[];
  seed: number;
  out: string;
  clients: number;
  readMode: ReadMode;
  target: TargetName;
}

function nemesisArg(v: string): NemesisKind[] {
  try {
    return parseNemeses(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** Usage errors exit 2 (commander's default, 1, would read as "anomaly found"). */
function usageExit(err: CommanderError): never {
  process.exit(err.exitCode === 0 ? 0 : 2);
}

// main.ts copies the program's settings into each subcommand, the exit callback included; this
// command keeps its own.
class JepsenCommand extends Command {
  override copyInheritedSettings(source: Command): this {
    super.copyInheritedSettings(source);
    return this.exitOverride(usageExit);
  }
}

export function jepsenCommand(): Command {
  return new JepsenCommand('jepsen')
    .description('run a Jepsen-style fault-injection test against a fresh 3-member cluster and check the history')
    .requiredOption('--time <seconds>', 'length of the main phase (faults + client operations)', intArg('--time', 1, 3600))
    .addOption(new Option('--workload <w>', 'what the clients do').choices(WORKLOADS).makeOptionMandatory())
    .requiredOption('--nemesis <list>', 'comma-separated faults: partition,kill,pause,member,transfer (or none)', nemesisArg)
    .requiredOption('--seed <n>', 'seeds the fault schedule and the clients\' choices', intArg('--seed', 0, 2 ** 32 - 1))
    .requiredOption('--out <dir>', 'output folder: history.jsonl, results.json, timeline.html, latency.svg, logs/')
    .option('--clients <c>', 'client lanes (spread over all members)', intArg('--clients', 1, 64), 6)
    .addOption(new Option('--read-mode <mode>', 'how reads are served').choices(READ_MODES).default('linearizable'))
    .addOption(new Option('--target <t>', 'the system under test').choices(TARGETS).default('keelson'))
    .exitOverride(usageExit)
    .action(async (o: JepsenFlags) => {
      // The harness only talks to loopback: a proxy set in the user's environment must not
      // capture its own gRPC clients (members get an environment of their own).
      if (['grpc_proxy', 'https_proxy', 'http_proxy'].some((k) => process.env[k])) {
        process.env.no_grpc_proxy = [process.env.no_grpc_proxy, '127.0.0.1', 'localhost'].filter((x) => x).join(',');
      }
      const controller = new AbortController();
      let interrupts = 0;
      const onInterrupt = (): void => {
        interrupts++;
        if (interrupts === 1) {
          process.stderr.write('\njepsen: interrupted; stopping the cluster and cleaning up (Ctrl-C again to quit at once)\n');
          controller.abort();
        } else {
          process.exit(2); // members are still killed by the exit hook; the temp folder may remain
        }
      };
      process.on('SIGINT', onInterrupt);
      process.on('SIGTERM', onInterrupt);
      try {
        const outcome = await runJepsen({
          timeSec: o.time,
          workload: o.workload,
          nemesis: o.nemesis,
          seed: o.seed,
          outDir: o.out,
          clients: o.clients,
          readMode: o.readMode,
          target: targetByName(o.target),
          progress: (line) => process.stderr.write(`${line}\n`),
          signal: controller.signal,
        });
        process.stdout.write(`${outcome.summary}\n`);
        process.exitCode = outcome.exitCode;
      } catch (err) {
        // Only failures to even write the output get here.
        process.stderr.write(`keelson jepsen: ${(err as Error).stack ?? String(err)}\n`);
        process.exitCode = 2;
      } finally {
        process.off('SIGINT', onInterrupt);
        process.off('SIGTERM', onInterrupt);
      }
    });
}
