// `tsyd viz`: draw the supervisor's machines from their definitions (see src/viz/).
import { writeFileSync } from 'node:fs';
import type { AnyStateMachine } from 'xstate';
import { toDot, toMermaid, toSvg, toSvgAll } from '../viz/index.js';

export const VIZ_USAGE = `Usage: tsyd viz [--format mermaid|dot|svg] [--out FILE] [--machine NAME]...
  Draw the supervisor's state machines from their definitions.
  --format F      mermaid (default), dot (Graphviz) or svg (self-contained, laid out by ELK: no
                  Graphviz needed)
  --out FILE      write to FILE instead of standard output
  --machine NAME  draw only this machine (repeatable; default: all)
Several machines in mermaid format give Markdown with one mermaid block each (so does --out *.md);
in dot format, one digraph each.`;

export const VIZ_FORMATS = ['mermaid', 'dot', 'svg'] as const;
export type VizFormat = (typeof VIZ_FORMATS)[number];

const EXIT_USAGE = 125;

/** Where runViz writes; the process's streams unless a caller (a test) says otherwise. */
export interface VizIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIO: VizIO = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

class VizUsageError extends Error {}

interface VizOptions {
  format: VizFormat;
  out?: string;
  machines: string[];
  help: boolean;
}

function parseVizArgs(argv: string[]): VizOptions {
  const opts: VizOptions = { format: 'mermaid', machines: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      opts.help = true;
      continue;
    }
    const m = /^(--format|--out|--machine)(?:=(.*))?$/s.exec(a);
    if (!m) {
      throw new VizUsageError(a.startsWith('-') ? `viz: unknown option '${a}' (see tsyd viz --help)` : `viz: unexpected argument '${a}' (see tsyd viz --help)`);
    }
    const flag = m[1]!;
    let v = m[2];
    if (v === undefined) {
      v = argv[++i];
      if (v === undefined) throw new VizUsageError(`viz: option ${flag} needs a value`);
    }
    if (flag === '--format') {
      if (!(VIZ_FORMATS as readonly string[]).includes(v)) {
        throw new VizUsageError(`viz: unknown format '${v}'; expected one of ${VIZ_FORMATS.join(', ')}`);
      }
      opts.format = v as VizFormat;
    } else if (flag === '--out') {
      if (v === '') throw new VizUsageError('viz: --out needs a file name');
      opts.out = v;
    } else {
      opts.machines.push(v);
    }
  }
  return opts;
}

async function render(format: VizFormat, chosen: Record<string, AnyStateMachine>, markdown: boolean): Promise<string> {
  const entries = Object.entries(chosen);
  switch (format) {
    case 'svg':
      return entries.length === 1 ? toSvg(entries[0]![0], entries[0]![1]) : toSvgAll(chosen);
    case 'dot':
      return entries.map(([name, m]) => toDot(name, m)).join('\n');
    case 'mermaid':
      if (entries.length === 1 && !markdown) return toMermaid(entries[0]![0], entries[0]![1]);
      return entries.map(([name, m]) => `## ${name}\n\n\`\`\`mermaid\n${toMermaid(name, m)}\`\`\`\n`).join('\n');
  }
}

/**
 * `tsyd viz [--format mermaid|dot|svg] [--out FILE] [--machine NAME]...`: returns the exit
 * status: 0, or 125 (with a message on stderr) for a bad option, format or machine name, no
 * machine to draw, or a file that cannot be written.
 */
export async function runViz(argv: string[], machines: Record<string, AnyStateMachine>, io: VizIO = processIO): Promise<number> {
  let opts: VizOptions;
  try {
    opts = parseVizArgs(argv);
  } catch (err) {
    if (!(err instanceof VizUsageError)) throw err;
    io.stderr(`tsyd: ${err.message}\n`);
    return EXIT_USAGE;
  }
  if (opts.help) {
    io.stdout(`${VIZ_USAGE}\n`);
    return 0;
  }
  const known = Object.keys(machines);
  if (known.length === 0) {
    io.stderr('tsyd: viz: no machines to draw\n');
    return EXIT_USAGE;
  }
  const unknown = opts.machines.filter((n) => !Object.hasOwn(machines, n));
  if (unknown.length) {
    const names = unknown.map((n) => `'${n}'`).join(', ');
    io.stderr(`tsyd: viz: unknown machine ${names}; expected one of ${known.join(', ')}\n`);
    return EXIT_USAGE;
  }
  const chosen: Record<string, AnyStateMachine> = {};
  for (const name of opts.machines.length ? opts.machines : known) chosen[name] = machines[name]!;
  const text = await render(opts.format, chosen, opts.out !== undefined && /\.(md|markdown)$/i.test(opts.out));
  if (opts.out === undefined) {
    io.stdout(text);
    return 0;
  }
  try {
    writeFileSync(opts.out, text);
  } catch (err) {
    io.stderr(`tsyd: viz: cannot write ${opts.out}: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  return 0;
}
