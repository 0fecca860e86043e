// The inspector's one page: src/inspect/page/ (HTML, CSS, JS) with the machines' charts drawn
// here, at start, by `tsyd viz`'s renderer: everything in one response, nothing fetched later.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AnyStateMachine } from 'xstate';
import { toSvg } from '../viz/index.js';

/**
 * The page's sources. The same relative URL works from dist/src/inspect/ and from the CLI's
 * bundle in dist/src/cli/ (same depth), as ../../../package.json does for `tsyd --version`.
 */
const PAGE_DIR = new URL('../../../src/inspect/page/', import.meta.url);

export interface Page {
  html: string;
  /** The Content-Security-Policy that goes with it. */
  csp: string;
}

function source(name: string): string {
  return readFileSync(new URL(name, PAGE_DIR), 'utf8');
}

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/**
 * One chart: the SVG of `tsyd viz` (its ids start with the machine's name: unique on the page),
 * in a frame the page script fills with the live state.
 */
async function chart(name: string, machine: AnyStateMachine): Promise<string> {
  const svg = await toSvg(name, machine);
  return [
    `<section class="machine" data-machine="${name}" aria-label="${name} machine">`,
    `<div class="head"><h2>${name}</h2><span class="value"></span></div>`,
    '<div class="context"></div>',
    svg,
    '<div class="tables"></div>',
    '</section>',
  ].join('\n');
}

/** The page for these machines (by name, in this order). */
export async function buildPage(machines: Record<string, AnyStateMachine>): Promise<Page> {
  const css = source('page.css');
  const js = source('page.js');
  const charts: string[] = [];
  // One at a time: the layout engine is one instance.
  for (const [name, m] of Object.entries(machines)) charts.push(await chart(name, m));
  const fill: Record<string, string> = { css, js, charts: charts.join('\n') };
  const html = source('index.html').replace(/\{\{(css|js|charts)\}\}/g, (_, k: string) => fill[k]!);
  // SAFETY: the page's own script and style only (by hash: nothing injected into it runs), no
  // other origin for anything (the page works offline and leaks nothing), no framing.
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(js)}`,
    `style-src ${sha256(css)}`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}
