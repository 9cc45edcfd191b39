// The HTML report in a real headless Chromium, opened from file:// as a user would: it must render
// without errors, fetch nothing, draw its charts, show hostile strings as text, and carry its JSON.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVIL_ID, fixtureReport } from './fixture.ts';
import { parseReport } from './json.ts';
import { writeReports } from './write.ts';

const CHROMIUM = process.env.CONVBENCH_CHROMIUM ?? '/usr/bin/chromium';
/** Set to a .png path to keep a screenshot of the page (for looking at it, not for committing). */
const SCREENSHOT = process.env.CONVBENCH_SCREENSHOT;

describe('HTML report in headless Chromium', () => {
  const report = fixtureReport();
  const dir = mkdtempSync(join(tmpdir(), 'convbench-html-'));
  const url = pathToFileURL(writeReports(report, dir).html).href;
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  const requests: string[] = [];
  const dialogs: string[] = [];
  let browser: Browser | undefined;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: the HTML report test needs a real browser. ` +
        'Install one with `npm run setup:browser` (or set CONVBENCH_CHROMIUM to a Chromium binary).');
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('request', (r) => requests.push(r.url()));
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    await page.goto(url, { waitUntil: 'load' });
    // Give anything an injected handler might have started a moment to show itself.
    await page.waitForTimeout(200);
    if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders without console or page errors', () => {
    expect(consoleErrors).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(dialogs).toEqual([]);
  });

  it('requests nothing but the file itself', () => {
    expect(requests).toEqual([url]);
  });

  it('draws a visible bar for every measured timing', async () => {
    const measured = report.timings.filter((t) => t.state === 'measured');
    const bars = page.locator('svg rect.bar');
    expect(await bars.count()).toBe(measured.length);
    for (const bar of await bars.all()) {
      await expect.poll(() => bar.isVisible()).toBe(true);
      const box = await bar.boundingBox();
      expect(box?.width).toBeGreaterThan(0);
      expect(box?.height).toBeGreaterThan(0);
    }
    // One chart per benchmarked case x computation, the fastest engine's bar the longest.
    expect(await page.locator('figure.chart').count()).toBe(new Set(measured.map((t) => `${t.caseId}\u0000${t.computation}`)).size);
    const widths = await page.locator('figure.chart').first().locator('rect.bar').evaluateAll((rects) => rects.map((r) => r.getBoundingClientRect().width));
    expect(widths[0]).toBe(Math.max(...widths));
    expect(await page.locator('figure.chart').first().locator('rect.bar').first().getAttribute('data-engine')).toBe('im2col');
  });

  it('shows a hostile case id as text and runs none of it', async () => {
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    const shown = await page.locator('td.case, figcaption .mono, article.failure .mono').evaluateAll(
      (els, id) => els.filter((e) => e.textContent === id).length, EVIL_ID);
    expect(shown).toBeGreaterThanOrEqual(3);
    expect(await page.getByText(EVIL_ID, { exact: true }).first().isVisible()).toBe(true);
    expect(dialogs).toEqual([]);
  });

  it('leads with failures and has every section', async () => {
    const ids = await page.locator('main > section').evaluateAll((els) => els.map((e) => e.id));
    expect(ids).toEqual(['summary', 'failures', 'oracles', 'gate', 'timings', 'results']);
    expect(await page.locator('article.failure').count()).toBe(3);
    expect(await page.locator('#failures').innerText()).toContain('got NaN, want 1.25');
    const header = await page.locator('header').innerText();
    for (const text of ['AMD EPYC 7763', 'v20.19.1', 'tinybench', 'GLIBC_TUNABLES', 'tfjs-wasm', 'tfjs-node']) expect(header).toContain(text);
  });

  it('filters the results table with its inline script', async () => {
    const rows = page.locator('#results-table tbody tr');
    expect(await rows.count()).toBe(3);
    await page.locator('#filter-text').fill('maxpool2d');
    await expect.poll(async () => (await rows.evaluateAll((trs) => trs.filter((t) => t instanceof HTMLElement && t.style.display !== 'none').length))).toBe(1);
    await page.locator('#filter-text').fill('');
    await page.locator('#filter-bad').check();
    await expect.poll(async () => (await rows.evaluateAll((trs) => trs.filter((t) => t instanceof HTMLElement && t.style.display !== 'none').length))).toBe(3);
  });

  it('carries the report as JSON that reads back to the same report', async () => {
    const text = await page.locator('#report-data').textContent();
    expect(parseReport(text ?? '', 'report-data')).toEqual(report);
    expect(await page.evaluate(() => JSON.parse(document.getElementById('report-data')?.textContent ?? 'null').name)).toBe(report.name);
  });
});
