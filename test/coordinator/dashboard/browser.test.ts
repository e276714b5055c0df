/**
 * The live page in headless Chromium (Debian's `chromium`, driven by playwright-core): it
 * takes the token from the URL fragment, submits a job through its form, shows it reach
 * SUCCEEDED, recolours the torus cells, draws the charts and the job's detail, refuses a
 * bad token, and keeps serving (page and /metrics) with 10 browser clients during a job.
 * Saves test-output/dashboard.png. Skips, saying so, where /usr/bin/chromium is absent.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobClient } from '../../../src/coordinator/client.js';
import { Coordinator } from '../../../src/coordinator/coordinator.js';
import { builtinWorkloads } from '../../../src/workloads/registry.js';
import { ensureBuilt } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`SKIPPED: the live-page browser test needs Debian's chromium at ${CHROMIUM} (apt-get install -y chromium)`);

const OUTPUT = resolve(import.meta.dirname, '..', '..', '..', 'test-output');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let coord: Coordinator;
let browser: Browser;
let base: string;
const pageErrors: string[] = [];

/** Opens the page with `#token=...`; its script errors and console errors go to `errors`. */
async function openPage(token: string, errors = pageErrors): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${base}/#token=${encodeURIComponent(token)}`);
  return page;
}

async function connected(page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelector('#conn')?.textContent === 'connected', undefined, { timeout: 15_000 });
}

const cellColors = (page: Page) => page.$$eval('.core', (els) => els.map((e) => getComputedStyle(e).backgroundColor));

describe.skipIf(!haveChromium)('live page in headless Chromium', () => {
  beforeAll(async () => {
    ensureBuilt();
    coord = await Coordinator.start({
      registry: builtinWorkloads,
      dataDir: mkdtempSync(join(tmpdir(), 'tpusim-page-')),
      pod: { topology: 'v4-8', hbmBytesPerCore: 16 * 1024 * 1024 },
      port: 0,
    });
    base = `http://127.0.0.1:${coord.server.port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await coord?.stop(5000);
  });

  it('runs a job submitted from the page to SUCCEEDED and recolours the torus', async () => {
    const page = await openPage(coord.token);
    await connected(page);
    // The token left the address bar once read.
    expect(page.url()).toBe(`${base}/`);
    await page.waitForFunction(() => document.querySelector('#stat-clock')?.textContent !== '–');
    const before = await cellColors(page);
    expect(before).toHaveLength(8);
    expect(await page.$$eval('.chip', (els) => els.length)).toBe(4);

    await page.selectOption('#submit-workload', 'matmul');
    await page.fill('#submit-config', JSON.stringify({ m: 256, k: 2048, n: 256, steps: 4 }));
    await page.fill('#submit-name', 'from-the-page');
    await page.click('#submit-button');
    await page.waitForFunction(() => /accepted: job-/.test(document.querySelector('#submit-status')?.textContent ?? ''));
    const jobId = (await page.textContent('#submit-status'))!.replace('accepted: ', '').trim();

    await page.waitForSelector(`.job-panel[data-job-id="${jobId}"] .state.SUCCEEDED`, { timeout: 45_000 });
    await page.waitForSelector(`#job-table tr[data-job-id="${jobId}"] .badge.SUCCEEDED`);
    await page.waitForFunction(
      (prev) => [...document.querySelectorAll('.core')].every((e, i) => getComputedStyle(e).backgroundColor !== prev[i]),
      before,
      { timeout: 10_000 },
    );
    // A cell shows the utilization of the latest window of simulated time; a window that
    // happened to hold only the step's all-reduce is a true 0, so only the range is certain.
    const mxu = await page.$$eval('.core', (els) => els.map((e) => Number((e as HTMLElement).dataset.mxu)));
    expect(mxu.every((u) => u >= 0 && u <= 1)).toBe(true);

    const panel = page.locator(`.job-panel[data-job-id="${jobId}"]`);
    expect(await panel.locator('.progress-text').textContent()).toBe('step 4 of 4');
    const figures = await panel.locator('dd').allTextContents();
    expect(figures).toHaveLength(3);
    for (const f of figures) expect(f).not.toBe('–');
    expect(Number.parseFloat(figures[1]!)).toBeGreaterThan(0); // the job's MFU, from its steps

    // Two pod charts, with points.
    expect(await page.$$eval('.charts canvas', (els) => els.length)).toBe(2);

    await page.click(`#job-table tr[data-job-id="${jobId}"]`);
    await page.waitForFunction(() => (document.querySelector('#detail-result')?.textContent ?? '').includes('checksum'));
    await page.waitForFunction(() => (document.querySelector('#detail-log')?.textContent ?? '').includes('matmul:'));
    expect(await page.textContent('#detail-config')).toContain('"k": 2048');
    expect(await page.$$eval('#detail-charts canvas', (els) => els.length)).toBeGreaterThanOrEqual(4);
    expect(await page.textContent('#detail-status')).toContain('SUCCEEDED');

    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, 'dashboard.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 90_000);

  it('refuses a wrong token and asks for the token again', async () => {
    const errors: string[] = [];
    const page = await openPage('not-the-token', errors);
    await page.waitForSelector('#token-view:not([hidden])', { timeout: 15_000 });
    // The only error: the refused upgrade.
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/WebSocket connection .* failed/);
    expect(await page.textContent('#token-error')).toContain('401');
    expect(await page.isHidden('#main')).toBe(true);
    await page.fill('#token-input', coord.token);
    await page.click('#token-form button');
    await connected(page);
    await page.close();
  }, 30_000);

  it('keeps the page and /metrics serving with 10 browser clients while a job runs', async () => {
    const pages = await Promise.all(Array.from({ length: 10 }, () => openPage(coord.token)));
    await Promise.all(pages.map(connected));
    expect(coord.server.connections()).toBeGreaterThanOrEqual(10);

    const client = await JobClient.connect(coord.url, { token: coord.token });
    const { jobId } = await client.submit({ workload: 'matmul', config: { m: 256, k: 2048, n: 256, steps: 8 }, subscribe: true });
    const end = client.waitForEnd(jobId);
    // While it runs: the page and /metrics answer, again and again.
    for (let i = 0; i < 6; i++) {
      const [metrics, index] = await Promise.all([fetch(`${base}/metrics`), fetch(`${base}/`)]);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('tpusim_core_up{core="7"} 1');
      expect(index.status).toBe(200);
      expect(await index.text()).toContain('<div id="torus"');
      await new Promise((r) => setTimeout(r, 150));
    }
    expect((await end).state).toBe('SUCCEEDED');
    await client.close();

    // Every page saw the job end and kept receiving pod frames.
    await Promise.all(pages.map((p) => p.waitForSelector(`#job-table tr[data-job-id="${jobId}"] .badge.SUCCEEDED`, { timeout: 20_000 })));
    const clocks = await Promise.all(pages.map((p) => p.textContent('#stat-clock')));
    for (const c of clocks) expect(c).not.toBe('–');
    expect(pageErrors).toEqual([]);
    await Promise.all(pages.map((p) => p.close()));
  }, 120_000);
});
