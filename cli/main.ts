// The `keelson` command. Each subcommand lives in its own module and is registered here.
import { Command } from 'commander';
import { masterCommand } from './master.js';
import { simCommand } from './sim.js';

const program = new Command();
program
  .name('keelson')
  .description('A Kubernetes-style control plane on a Raft-replicated, etcd-compatible store')
  .version('0.1.0')
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(`keelson: ${str.replace(/^error: /, '')}`) });

for (const sub of [masterCommand(), simCommand()]) {
  sub.copyInheritedSettings(program);
  program.addCommand(sub);
}

await program.parseAsync(process.argv);
