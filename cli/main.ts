// The `keelson` command. Each subcommand lives in its own module and registers itself here.
import { Command } from 'commander';

const program = new Command();
program
  .name('keelson')
  .description('A Kubernetes-style control plane on a Raft-replicated, etcd-compatible store')
  .version('0.1.0')
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(`keelson: ${str.replace(/^error: /, '')}`) });

await program.parseAsync(process.argv);
