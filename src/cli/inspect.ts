// `tsyd run --inspect[=[HOST:]PORT] [--inspect-wait]`: the program under tsyd, with the live
// inspector (src/inspect/) serving its page while it runs.
import { Inspector } from '../inspect/server.js';
import { isLoopback } from '../inspect/address.js';
import type { RunCommand } from './args.js';
import { normaliseOptions } from '../supervisor/options.js';
import { supervise } from './supervise.js';
import { printWarnings } from './warnings.js';

export async function runInspected(cmd: RunCommand & { inspect: NonNullable<RunCommand['inspect']> }): Promise<number> {
  const options = { policy: cmd.policy, audit: cmd.audit, logLevel: cmd.logLevel, logFd: cmd.logFd, logFormat: cmd.logFormat };
  // A bad rule, profile or program fails now (125, 127), as without --inspect: not after a page
  // has connected (--inspect-wait would otherwise wait for a run that cannot start).
  normaliseOptions(cmd.program, cmd.args, options);
  const inspector = await Inspector.start(cmd.inspect, [cmd.program, ...cmd.args]);
  // The one line users and scripts look for (README, Inspector).
  process.stderr.write(`tsyd: inspector at ${inspector.url}\n`);
  if (!isLoopback(inspector.host)) {
    // SAFETY: plain HTTP: the token crosses the network in clear.
    process.stderr.write(`tsyd: warning: the inspector listens beyond this machine (${inspector.host}): its token travels unencrypted\n`);
  }
  // The program's life begins at spawn(): nothing of it runs before a page is there. Until
  // then tsyd only waits; a signal ends it with the default action (nothing to clean up).
  if (cmd.inspect.wait) await inspector.pageConnected();
  try {
    return await supervise(cmd.program, cmd.args, options, (child) => {
      printWarnings(child);
      inspector.attach(child);
    });
  } finally {
    // The pages get the end (exit status, final counts) before tsyd exits; they keep showing it.
    await inspector.close();
  }
}
