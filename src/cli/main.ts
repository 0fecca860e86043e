// The `tsyd` command: argv → library call → exit status. Thin by design.
import { readFileSync } from 'node:fs';
import { SystemCallError, TsydError } from '../errors.js';
import { exportProgramFilter, exportSyscalls } from '../export/export.js';
import { bootExport } from '../export/run-export.js';
import { credentialBounds } from '../confine/emulator-filter.js';
import { startFailureStatus } from '../supervisor/program-path.js';
import { buildPolicy } from '../sandbox/build.js';
import { parseArgs } from './args.js';
import { COMMAND_USAGE, USAGE } from './usage.js';
import { runLearn } from './learn.js';
import { runCrypt } from './crypt.js';
import { runCtl } from './ctl.js';
import { EXIT_START_FAILED, fail, startFailureText, supervise } from './supervise.js';
import { printWarnings } from './warnings.js';
import { mark, markProcessStart } from '../shared/timeline.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<void> {
  markProcessStart();
  mark('cli.loaded');
  let code: number;
  try {
    const cmd = parseArgs(argv);
    switch (cmd.command) {
      case 'help':
        process.stdout.write(`${cmd.topic === undefined ? USAGE : COMMAND_USAGE[cmd.topic]}\n`);
        code = 0;
        break;
      case 'usage':
        // Bare `tsyd`: a usage error like any other (125), the usage where errors go.
        process.stderr.write(`${USAGE}\n`);
        fail('no command given (see tsyd --help)', EXIT_START_FAILED);
      case 'version':
        process.stdout.write(`tsyd ${version()}\n`);
        code = 0;
        break;
      case 'check':
        process.stdout.write(buildPolicy(cmd.policy).normalized().map((l) => `${l}\n`).join(''));
        code = 0;
        break;
      case 'learn':
        code = await runLearn(cmd);
        break;
      case 'viz': {
        // Loaded when asked for (as the inspector below): a plain `run` does not pay for them.
        const [{ runViz }, { MACHINES }] = await Promise.all([import('./viz.js'), import('../machines/index.js')]);
        code = await runViz(cmd.argv, MACHINES);
        break;
      }
      case 'crypt':
        code = runCrypt(cmd);
        break;
      case 'ctl':
        code = await runCtl(cmd);
        break;
      case 'export':
        bootExport(cmd.mode, cmd.policy === undefined ? undefined : credentialBounds(buildPolicy(cmd.policy).transits));
        code = 0;
        break;
      case 'syscalls':
        process.stdout.write(exportSyscalls(buildPolicy(cmd.policy)));
        code = 0;
        break;
      case 'program-filter':
        if (process.stdout.isTTY) throw new TsydError('EINVAL', 'export program writes binary BPF: redirect stdout to a file');
        process.stdout.write(exportProgramFilter(buildPolicy(cmd.policy)));
        code = 0;
        break;
      case 'oci-seccomp': {
        const { exportOciSeccomp } = await import('../export/oci-seccomp.js');
        process.stdout.write(`${JSON.stringify(exportOciSeccomp(buildPolicy(cmd.policy), cmd.listener, cmd.metadata), null, 2)}\n`);
        code = 0;
        break;
      }
      case 'agent':
        code = await (await import('./agent.js')).runAgent(cmd);
        break;
      case 'run':
        // TSYD_EXPORT=bpf|pfc: boot exports the filters first, then runs the program (as the
        // reference's boot()); a failed export runs nothing (125).
        if (cmd.inspect) code = await (await import('./inspect.js')).runInspected({ ...cmd, inspect: cmd.inspect });
        else code = await supervise(cmd.program, cmd.args, { policy: cmd.policy, audit: cmd.audit, logLevel: cmd.logLevel, logFd: cmd.logFd, logFormat: cmd.logFormat }, printWarnings);
        break;
    }
  } catch (err) {
    if (err instanceof SystemCallError && err.syscall === 'execve') {
      fail(`${err.path ?? ''}: ${startFailureText(err)}`, startFailureStatus(err.errno));
    }
    if (err instanceof TsydError) fail(err.message, EXIT_START_FAILED);
    fail(`internal error: ${(err as Error)?.stack ?? String(err)}`, EXIT_START_FAILED);
  }
  mark('process.exit');
  process.exit(code);
}
