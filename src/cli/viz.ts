// `tsyd viz`: draw the supervisor's machines from their definitions (see src/viz/).
import { writeFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { AnyStateMachine } from 'xstate';
import { unknownName } from '../shared/did-you-mean.js';
import { toDot, toMermaid, toSvg, toSvgAll } from '../viz/index.js';

export const VIZ_USAGE = `Usage: tsyd viz [--format mermaid|dot|svg] [--out FILE] [--machine NAME]...
  Draw the supervisor's state machines from their definitions.
  --format F      mermaid (the default on standard output), dot (Graphviz) or svg (self-contained,
                  laid out by ELK: no Graphviz needed)
  --out FILE      write to FILE instead of standard output; its extension names the format:
                  .svg, .dot or .gv, .md or .markdown (Markdown, one mermaid block per machine),
                  .mmd (one machine's mermaid); --format, if given, must agree
  --machine NAME  draw only this machine (repeatable; default: all)
Several machines in mermaid format give Markdown with one mermaid block each; in dot format, one
digraph each. For a PNG: --format svg and a converter (rsvg-convert, a browser), or --format dot
and Graphviz (dot -Tpng).`;

const VIZ_OPTIONS = ['--format', '--out', '--machine', '--help'];

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
  format?: VizFormat;
  out?: string;
  machines: string[];
  help: boolean;
}

function parseVizArgs(argv: string[]): VizOptions {
  const opts: VizOptions = { machines: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      opts.help = true;
      continue;
    }
    const m = /^(--format|--out|--machine)(?:=(.*))?$/s.exec(a);
    if (!m) {
      throw new VizUsageError(
        a.startsWith('-') ? `viz: ${unknownName('option', a.split('=')[0]!, VIZ_OPTIONS, 'see tsyd viz --help')}` : `viz: unexpected argument '${a}' (see tsyd viz --help)`,
      );
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

/** The format each extension of --out stands for; `markdown`: mermaid blocks under headings. */
const EXTENSIONS: Record<string, { format: VizFormat; markdown: boolean }> = {
  '.svg': { format: 'svg', markdown: false },
  '.dot': { format: 'dot', markdown: false },
  '.gv': { format: 'dot', markdown: false },
  '.md': { format: 'mermaid', markdown: true },
  '.markdown': { format: 'mermaid', markdown: true },
  '.mmd': { format: 'mermaid', markdown: false },
};

/** Pictures tsyd viz does not draw, by extension: the Graphviz output format of each. */
const IMAGES: Record<string, string> = {
  '.png': 'png',
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.gif': 'gif',
  '.webp': 'webp',
  '.bmp': 'bmp',
  '.tif': 'tiff',
  '.tiff': 'tiff',
  '.pdf': 'pdf',
  '.eps': 'eps',
  '.ps': 'ps',
};

/** The refusal to write an image, with two ways to get one. */
function howToGetImage(out: string, ext: string, graphviz: string): string {
  const file = basename(out);
  // rsvg-convert writes png, pdf, ps and eps.
  const rsvg = ['png', 'pdf', 'ps', 'eps'].includes(graphviz) ? ` && rsvg-convert -f ${graphviz} machines.svg -o ${file}` : ', then convert it';
  return (
    `viz: cannot write ${out}: tsyd viz writes text (svg, dot or mermaid), not a ${ext.slice(1).toUpperCase()} image; ` +
    `draw an SVG and convert it (\`tsyd viz --format svg --out machines.svg${rsvg}\`) ` +
    `or let Graphviz draw it (\`tsyd viz --format dot | dot -T${graphviz} -o ${file}\`)`
  );
}

/**
 * The format to write, and whether as Markdown: from --format, and from the extension of --out,
 * which must agree with it; standard output takes --format, mermaid by default.
 */
function outputFormat(opts: VizOptions, machines: number): { format: VizFormat; markdown: boolean } {
  if (opts.out === undefined) return { format: opts.format ?? 'mermaid', markdown: machines > 1 };
  const ext = extname(opts.out).toLowerCase();
  const image = IMAGES[ext];
  if (image !== undefined) throw new VizUsageError(howToGetImage(opts.out, ext, image));
  const byExt = EXTENSIONS[ext];
  if (byExt === undefined) {
    throw new VizUsageError(
      `viz: cannot tell the format of ${opts.out} from its extension ('${ext}'); name it .svg, .dot, .gv, .md, .markdown or .mmd`,
    );
  }
  if (opts.format !== undefined && opts.format !== byExt.format) {
    throw new VizUsageError(`viz: --format ${opts.format} contradicts the extension of ${opts.out} (${ext} is ${byExt.format}); drop --format or rename the file`);
  }
  if (byExt.format === 'mermaid' && !byExt.markdown && machines > 1) {
    throw new VizUsageError(
      `viz: ${opts.out}: a .mmd file holds one diagram, and ${machines} machines are asked for; choose one with --machine NAME, or write Markdown (.md) with one block each`,
    );
  }
  return byExt;
}

async function render(format: VizFormat, chosen: Record<string, AnyStateMachine>, markdown: boolean): Promise<string> {
  const entries = Object.entries(chosen);
  switch (format) {
    case 'svg':
      return entries.length === 1 ? toSvg(entries[0]![0], entries[0]![1]) : toSvgAll(chosen);
    case 'dot':
      return entries.map(([name, m]) => toDot(name, m)).join('\n');
    case 'mermaid':
      if (!markdown) return toMermaid(entries[0]![0], entries[0]![1]);
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
  let output: { format: VizFormat; markdown: boolean };
  try {
    output = outputFormat(opts, Object.keys(chosen).length);
  } catch (err) {
    if (!(err instanceof VizUsageError)) throw err;
    io.stderr(`tsyd: ${err.message}\n`);
    return EXIT_USAGE;
  }
  const text = await render(output.format, chosen, output.markdown);
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
