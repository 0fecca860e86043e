// The `tsyd` command: argv → library call → exit status. Thin by design.
import { readFileSync } from 'node:fs';
import { createActor, fromPromise, toPromise } from 'xstate';
import { SystemCallError, TsydError, UsageError } from '../errors.js';
import { exportBpf, exportPfc, exportSyscalls, isExportMode, type ExportMode } from '../export/export.js';
import { exportMachine } from '../machines/export.machine.js';
import { MACHINES } from '../machines/index.js';
import { runViz } from './viz.js';
import { startFailureStatus } from '../program.js';
import { buildPolicy } from '../sandbox/build.js';
import { parseArgs, USAGE } from './args.js';
import { runInspected } from './inspect.js';
import { runLearn } from './learn.js';
import { EXIT_START_FAILED, fail, startFailureText, supervise } from './supervise.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
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
      case 'learn':
        code = await runLearn(cmd);
        break;
      case 'viz':
        code = runViz(cmd.argv, MACHINES);
        break;
      case 'export':
        code = await runExport(cmd.mode);
        break;
      case 'syscalls':
        process.stdout.write(exportSyscalls(buildPolicy(cmd.policy)));
        code = 0;
        break;
      case 'run': {
        // TSYD_EXPORT=bpf|pfc tsyd run ...: export, run nothing (as the reference's boot()).
        const mode = process.env.TSYD_EXPORT;
        if (mode !== undefined && mode !== '') {
          if (!isExportMode(mode)) throw new UsageError(`TSYD_EXPORT must be bpf or pfc, got '${mode}'`);
          code = await runExport(mode);
        } else if (cmd.inspect) code = await runInspected({ ...cmd, inspect: cmd.inspect });
        else code = await supervise(cmd.program, cmd.args, { policy: cmd.policy, audit: cmd.audit, logLevel: cmd.logLevel, logFd: cmd.logFd });
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
