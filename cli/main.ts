// The `keelson` command. Each subcommand lives in its own module and is registered here.
import { Command } from 'commander';
import { benchCommand } from './bench.js';
import { clusterCommand } from './cluster.js';
import { jepsenCommand } from './jepsen.js';
import { masterCommand } from './master.js';
import { memberCommand } from './member.js';
import { snapshotCommand } from './snapshot.js';
import { simCommand } from './sim.js';
import { statusCommand } from './status.js';

const program = new Command();
program
  .name('keelson')
  .description('A Kubernetes-style control plane on a Raft-replicated, etcd-compatible store')
  .version('0.1.0')
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(`keelson: ${str.replace(/^error: /, '')}`) });

for (const sub of [masterCommand(), memberCommand(), snapshotCommand(), simCommand(), benchCommand(), clusterCommand(), statusCommand(), jepsenCommand()]) {
  inherit(sub, program);
  program.addCommand(sub);
}

/** Error output and help behaviour of the top command, for every subcommand at any depth. */
function inherit(cmd: Command, from: Command): void {
  cmd.copyInheritedSettings(from);
  for (const c of cmd.commands) inherit(c, cmd);
}

await program.parseAsync(process.argv);
