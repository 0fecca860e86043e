// The start-up of `true` under tsyd and under every peer that can start it: what a user pays per
// command before any work. Rows a machine cannot run say why.
import { programFilterFile } from './notified.js';
import { cprog, programPath, tsyd, tsydBin, type Peers } from './tools.js';

export interface StartupVariant {
  name: string;
  argv?: string[];
  why?: string;
}

export function startupVariants(p: Peers): StartupVariant[] {
  // The file itself: no supervisor pays for a PATH search (the C limit's execvp would stop on each try).
  const trueFile = programPath('true');
  const peer = (name: string, prefix: string[] | undefined, why: string | undefined): StartupVariant =>
    prefix ? { name, argv: [...prefix, trueFile] } : { name, why: why ?? 'not available' };
  return [
    { name: '`true` natively', argv: [trueFile] },
    { name: '`node -e 0`', argv: [process.execPath, '-e', '0'] },
    // Node, the CLI bundle and the addon loaded, nothing supervised.
    { name: '`tsyd --version`', argv: [process.execPath, tsydBin, '--version'] },
    peer('`bwrap --ro-bind / / --dev /dev --proc /proc true`', p.bwrap.prefix, p.bwrap.why),
    peer('`strace -f true`', p.strace.prefix, p.strace.why),
    peer('`proot true`', p.proot.prefix, p.proot.why),
    { name: '`true` under the C limit (tsyd\'s `user` filter)', argv: [cprog('csuper'), '-s', '-f', programFilterFile(['-p', 'user']), 'continue', '--', trueFile] },
    { name: '`tsyd run -- true` (default profile)', argv: [...tsyd(), trueFile] },
    { name: '`tsyd run -p off -- true`', argv: [...tsyd('-p', 'off'), trueFile] },
  ];
}
