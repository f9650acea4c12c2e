// The `outpost` command: run a hub or an agent, and operate a fleet from the terminal. Reads print
// tables, or JSON with -o json; every failure prints the hub's error code and exits non-zero. Each
// group of commands is registered by the file named for it, in the order `outpost --help` lists them.

import { Command } from '@commander-js/extra-typings';
import { agentVersion } from '../agent/agent.ts';
import { describeError, OutpostError } from '../model/errors.ts';
import { addApiTokenCommands, addBootstrapTokenCommands } from './access.ts';
import { addAgentCommand } from './agent.ts';
import { addBundleCommands } from './bundle.ts';
import { addDemoCommand } from './demo.ts';
import { addEventsCommand } from './events.ts';
import { addFleetCommands } from './fleet.ts';
import { addHubCommand } from './hub.ts';
import { addOperationCommands } from './operations.ts';
import { addProfileCommands } from './profile.ts';
import { addRelayCommands } from './relay.ts';
import { addRolloutCommands } from './rollout.ts';
import { addSecretCommands } from './secret.ts';
import { addSimCommand } from './sim.ts';
import { addRegistrationCommands, addSiteCommands } from './sites.ts';
import { addSloCommands } from './slo.ts';
import { addStatusCommands } from './status.ts';
import { addTunnelCommand } from './tunnel.ts';

export function program(): Command {
  const root = new Command('outpost')
    .description('Fleet manager for edge Kubernetes sites')
    .version(agentVersion)
    .showHelpAfterError();

  addHubCommand(root);
  addAgentCommand(root);
  addRelayCommands(root);
  addBootstrapTokenCommands(root);
  addRegistrationCommands(root);
  addApiTokenCommands(root);
  addSiteCommands(root);
  addOperationCommands(root);
  addTunnelCommand(root);
  addBundleCommands(root);
  addStatusCommands(root);
  addEventsCommand(root);
  addSimCommand(root);
  addDemoCommand(root);
  addRolloutCommands(root);
  addFleetCommands(root);
  addSloCommands(root);
  addProfileCommands(root);
  addSecretCommands(root);
  return root;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    // a command may have set a failing exit code without throwing (a plan with errors, say)
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof OutpostError) {
      process.stderr.write(`outpost: ${describeError(e)}\n`);
      return 1;
    }
    process.stderr.write(`outpost: ${(e as Error).message}\n`);
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv);
}
