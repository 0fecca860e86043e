// The `tsyd` command: argv → library call → exit status. Thin by design.
import { fstatSync, readFileSync } from 'node:fs';
import { createActor, fromPromise, toPromise } from 'xstate';
import { errnoText, SystemCallError, TsydError, UsageError } from '../errors.js';
import { exportBpf, exportPfc, isExportMode, type ExportMode } from '../actors/export.js';
import { exportMachine } from '../machines/export.machine.js';
import { MACHINES } from '../machines/index.js';
import { runViz } from './viz.js';
import { startFailureStatus } from '../program.js';
import { native } from '../native/addon.js';
import { buildPolicy } from '../sandbox/build.js';
import { spawn, type SandboxedProcess } from '../spawn.js';
import { parseArgs, USAGE, type RunCommand } from './args.js';

/** Signals sent to tsyd that are passed on to the program. */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

const EXIT_START_FAILED = 125;

function fail(message: string, code: number): never {
  process.stderr.write(`tsyd: ${message}\n`);
  process.exit(code);
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function startFailureText(err: TsydError): string {
  if (!(err instanceof SystemCallError)) return err.message;
  if (err.syscall !== 'execve') return `cannot start the sandbox: ${err.message}`;
  if (err.code === 'ENOENT') return 'command not found';
  return `cannot execute: ${errnoText(err.errno)}`;
}

/** The export machine with the real writers. */
async function runExport(mode: ExportMode): Promise<number> {
  const machine = exportMachine.provide({
    actors: {
      writeBpf: fromPromise(async () => {
        for (const p of exportBpf(process.cwd())) process.stderr.write(`tsyd: wrote ${p}\n`);
      }),
      printPfc: fromPromise(async () => {
        process.stdout.write(exportPfc());
      }),
    },
  });
  const out = await toPromise(createActor(machine, { input: { mode } }).start());
  if (!out.ok) {
    process.stderr.write(`tsyd: export: ${out.error}\n`);
    return EXIT_START_FAILED;
  }
  return 0;
}

async function runCommand(cmd: RunCommand): Promise<number> {
  if (cmd.logFd !== undefined) {
    try {
      fstatSync(cmd.logFd);
    } catch {
      fail(`--log-fd ${cmd.logFd}: not an open file descriptor`, EXIT_START_FAILED);
    }
  }
  // Handlers first: the program may be running (and be signalled) before spawn() returns.
  // Node runs them from the event loop, so `child` is set by then.
  let child: SandboxedProcess | undefined;
  for (const sig of FORWARDED) process.on(sig, () => child?.kill(sig));
  child = spawn(cmd.program, cmd.args, { policy: cmd.policy, logLevel: cmd.logLevel, logFd: cmd.logFd });
  const result = await child.result;
  if (result.error) process.stderr.write(`tsyd: ${cmd.program}: ${startFailureText(result.error)}\n`);
  // SAFETY: never hang: Node would wait forever for a thread it cannot stop.
  if (!result.cleanShutdown) native.exitNow(result.exitCode);
  return result.exitCode;
}

export async function main(argv: string[]): Promise<void> {
  let code: number;
  try {
    const cmd = parseArgs(argv);
    switch (cmd.command) {
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        code = 0;
        break;
      case 'version':
        process.stdout.write(`tsyd ${version()}\n`);
        code = 0;
        break;
      case 'check':
        process.stdout.write(buildPolicy(cmd.policy).normalized().map((l) => `${l}\n`).join(''));
        code = 0;
        break;
      case 'viz':
        code = runViz(cmd.argv, MACHINES);
        break;
      case 'export':
        code = await runExport(cmd.mode);
        break;
      case 'run': {
        // TSYD_EXPORT=bpf|pfc tsyd run ...: export, run nothing (as the reference's boot()).
        const mode = process.env.TSYD_EXPORT;
        if (mode !== undefined && mode !== '') {
          if (!isExportMode(mode)) throw new UsageError(`TSYD_EXPORT must be bpf or pfc, got '${mode}'`);
          code = await runExport(mode);
        } else code = await runCommand(cmd);
        break;
      }
    }
  } catch (err) {
    if (err instanceof SystemCallError && err.syscall === 'execve') {
      fail(`${err.path ?? ''}: ${startFailureText(err)}`, startFailureStatus(err.errno));
    }
    if (err instanceof TsydError) fail(err.message, EXIT_START_FAILED);
    fail(`internal error: ${(err as Error)?.stack ?? String(err)}`, EXIT_START_FAILED);
  }
  process.exit(code);
}
