// The inspector's page in a real browser (headless Chromium driven by puppeteer-core): a FIFO
// flood grows the pool past its core size (TSYD_NPROC=1; the test-only TSYD_FAULT=inline-blocking
// makes each FIFO open hold its emulator) and the program makes one denied read. The page must
// light `running` in the monitor's chart, show the pool's count above the core size, list the
// denial (and filter it), show the end, and fetch nothing from anywhere but tsyd.
// TSYD_INSPECTOR_SCREENSHOT=FILE saves what the page shows mid-run (README's docs/inspector.png).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe } from '../helpers/tsyd.js';
import { makeFifos, releaseFifo } from '../supervisor/helpers.js';
import { startInspected } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Debian's chromium, or a failure that says how to get it (never a silent skip). */
function chromium(): string {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the inspector's browser test needs Chromium. Install it with \`apt-get update && apt-get install -y chromium\` (as root; .ci/run does), or set CHROMIUM=/path/to/chromium`);
  }
  return CHROMIUM;
}

const text = (page: Page, selector: string) => page.$eval(selector, (e) => e.textContent ?? '');
const clearFilter = (page: Page) => page.evaluate(`document.querySelector('#denial-filter').value = ''; document.querySelector('#denial-filter').dispatchEvent(new Event('input'))`);

test('in Chromium: the monitor chart lights running, the pool count rises above the core size, the denial is listed', async () => {
  const executablePath = chromium();
  const dir = tempTree('inspect-browser', { secret: 'S' });
  const fifos = makeFifos(dir, 'f', 3);
  const t = await startInspected(
    ['run', '--inspect=0', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', `deny/read+${dir}/secret`, '--', fixture('fifoflood'), '3', `${dir}/f`, `${dir}/secret`],
    { keepStdinOpen: true, timeoutMs: 120_000, env: { TSYD_NPROC: '1', TSYD_FAULT: 'inline-blocking', TSYD_KEEP_ALIVE: '60000' } },
  );
  let browser: Browser | undefined;
  try {
    // As root Chromium refuses to start with its own sandbox: the page is ours, served locally.
    browser = await puppeteer.launch({ executablePath, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
    const page = await browser.newPage();
    await page.setViewport({ width: 1600, height: 1000 });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(t.url);
    await page.waitForSelector('section[data-machine="monitor"] [data-state="running"].active', { timeout: 15_000 });
    await page.waitForSelector('section[data-machine="sandbox"] [data-state="running"].active');
    assert.is(await page.$$eval('section[data-machine="monitor"] [data-state="readingSandbox"].active', (l) => l.length), 0, 'only current states are lit');
    // Three FIFO opens hold three emulators: the monitor adds helpers past the core size (1).
    await page.waitForFunction(
      `Number(document.querySelector('#pool-numbers [data-field="curr"]').textContent) > Number(document.querySelector('#pool-numbers [data-field="core"]').textContent)`,
      { timeout: 15_000 },
    );
    assert.is(await text(page, '#pool-numbers [data-field="core"]'), '1');
    assert.ok(Number(await text(page, '#pool-numbers [data-field="curr"]')) >= 4, 'three blocked, one more to answer');
    await page.waitForSelector('section[data-machine="emulator"] [data-state="busy"].active');
    assert.ok((await page.$eval('#pool-chart polyline.curr', (e) => e.getAttribute('points') ?? '')).split(' ').length >= 2, 'the chart draws curr');

    t.child.stdin!.write('regular\n');
    await t.waitForStdout(/regular errno=13/);
    const secret = `${dir}/secret`;
    await page.waitForFunction(`[...document.querySelectorAll('#denials li')].some((li) => li.textContent.includes(${JSON.stringify(secret)}))`, { timeout: 10_000 });
    const row = await text(page, '#denials li');
    assert.match(row, 'read');
    assert.match(row, 'openat');
    await page.type('#denial-filter', 'no-such-path');
    assert.is(await page.$$eval('#denials li:not([hidden])', (l) => l.length), 0, 'the filter hides what does not match');
    await clearFilter(page);
    await page.type('#denial-filter', 'OPENAT');
    assert.is(await page.$$eval('#denials li:not([hidden])', (l) => l.length), 1, 'and shows what does (any case)');
    assert.ok((await text(page, '#policy')).includes(`deny/read+${secret}`), 'the policy is shown');
    const shot = process.env.TSYD_INSPECTOR_SCREENSHOT;
    if (shot) {
      await clearFilter(page);
      await new Promise((r) => setTimeout(r, 1500));
      await page.screenshot({ path: shot });
    }

    for (const f of fifos) releaseFifo(f);
    t.child.stdin!.write('join\n');
    await t.waitForStdout(/joined/);
    t.child.stdin!.end('exit\n');
    await page.waitForFunction(`document.body.dataset.program === 'ended'`, { timeout: 15_000 });
    assert.match(await text(page, '#program-status'), /^ended: exit 0/);
    await page.waitForFunction(`document.body.dataset.connection === 'closed'`, { timeout: 15_000 });
    await page.waitForSelector('section[data-machine="sandbox"] [data-state="ended"].active');
    const r = await t.result;
    assert.is(r.code, 0, describe(r));
    // The page still shows the run once tsyd has gone.
    assert.match(await text(page, '#connection'), /tsyd has exited/);
    assert.equal(errors, [], 'no error in the page');
    const foreign = requests.filter((u) => !u.startsWith(`${t.base}/`));
    assert.equal(foreign, [], 'everything came from tsyd');
    assert.ok(requests.some((u) => u.startsWith(`${t.base}/events?token=`)), 'the page follows /events');
  } finally {
    await browser?.close();
    t.child.kill('SIGKILL');
  }
});

test.run();
