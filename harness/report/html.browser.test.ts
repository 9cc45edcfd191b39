// The HTML report in a real headless Chromium, opened from file:// as a user would: it must render
// without errors, fetch nothing, draw its charts on a log scale, show hostile strings as text, and
// carry its JSON.
//
// Which Chromium: $CONVBENCH_CHROMIUM (a Chromium or Chrome binary), else the system's
// (/usr/bin/chromium, /usr/bin/chromium-browser, /usr/bin/google-chrome, ...), else Playwright's
// cache (~/.cache/ms-playwright/chromium-*/chrome-linux/chrome); see find-chromium.test-support.ts. With none,
// these tests are skipped and say why, except under CI=true, where a missing Chromium fails.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserPlan, findChromium, realProbe } from './find-chromium.test-support.ts';
import { CONV_ID, EVIL_ID, fixtureReport } from './fixture.ts';
import { parseReport } from './json.ts';
import { writeReports } from './write.ts';

const PLAN = browserPlan(process.env, findChromium(process.env, realProbe));
/** Set to a .png path to keep a screenshot of the page (for looking at it, not for committing). */
const SCREENSHOT = process.env.CONVBENCH_SCREENSHOT;

it(`finds a Chromium to drive${PLAN.kind === 'skip' ? ` (skipped: ${PLAN.reason})` : ''}`, (ctx) => {
  if (PLAN.kind === 'fail') throw new Error(PLAN.reason);
  if (PLAN.kind === 'skip') {
    console.warn(`HTML report browser test skipped: ${PLAN.reason}`); // seen without --reporter=verbose too
    ctx.skip(PLAN.reason);
    return;
  }
  expect(realProbe.isExecutable(PLAN.path)).toBe(true);
});

describe.skipIf(PLAN.kind !== 'run')(`HTML report in headless Chromium (${PLAN.kind === 'run' ? PLAN.note : 'skipped: no Chromium, see above'})`, () => {
  const report = fixtureReport();
  let dir = '';
  let url = '';
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  const requests: string[] = [];
  const dialogs: string[] = [];
  let browser: Browser | undefined;
  let page: Page;

  beforeAll(async () => {
    if (PLAN.kind !== 'run') throw new Error('no Chromium');
    dir = mkdtempSync(join(tmpdir(), 'convbench-html-'));
    url = pathToFileURL(writeReports(report, dir).html).href;
    browser = await chromium.launch({
      executablePath: PLAN.path,
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
    if (dir) rmSync(dir, { recursive: true, force: true });
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
    // One chart per benchmarked case x computation, of median times: the fastest engine first, its bar the shortest.
    expect(await page.locator('figure.chart').count()).toBe(new Set(measured.map((t) => `${t.caseId}\u0000${t.computation}`)).size);
    const first = page.locator('figure.chart').first();
    const widths = await first.locator('rect.bar').evaluateAll((rects) => rects.map((r) => r.getBoundingClientRect().width));
    expect(widths[0]).toBe(Math.min(...widths));
    expect(await first.locator('rect.bar').first().getAttribute('data-engine')).toBe('ort');
  });

  it('draws times on a log scale: bars 100x apart in time are both long, and far less than 100x apart in length', async () => {
    const chart = page.locator('figure.chart').filter({ hasText: CONV_ID });
    const bar = async (engine: string) => {
      const rect = chart.locator(`rect.bar[data-engine="${engine}"]`);
      return { ms: Number(await rect.getAttribute('data-ms')), width: (await rect.boundingBox())?.width ?? 0 };
    };
    const ort = await bar('ort');
    const cpu = await bar('tfjs-cpu');
    expect(cpu.ms / ort.ms).toBeGreaterThan(90); // the fixture's spread: a JS kernel 100x slower than ONNX Runtime
    expect(ort.width).toBeGreaterThanOrEqual(20);
    expect(cpu.width).toBeGreaterThan(ort.width);
    expect(cpu.width / ort.width).toBeLessThan(10);
    // Decade gridlines are labelled, so the scale can be read.
    expect(await chart.locator('svg text.tick').allTextContents()).toEqual(expect.arrayContaining(['1 ms', '10 ms', '100 ms']));
  });

  it('calls out the fastest engine and labels every other ratio in words', async () => {
    const chart = page.locator('figure.chart').filter({ hasText: CONV_ID });
    expect(await chart.locator('figcaption').innerText()).toContain('fastest: ort');
    const labels = await chart.locator('svg text.value').allTextContents();
    expect(labels[0]).toMatch(/^0\.612 ms · fastest$/);
    expect(labels.slice(1)).toEqual([expect.stringMatching(/34\.5x slower than ort$/), expect.stringMatching(/100x slower than ort$/)]);
    expect(await page.locator('#timings table').innerText()).toContain('100x slower than ort');
  });

  it('lists the speed gate\'s failures under Failures, with the check failures', async () => {
    const failures = page.locator('#failures');
    expect(await failures.locator('h2').innerText()).toBe('Failures (6)');
    const gate = await failures.locator('article.failure.gate').allInnerTexts();
    expect(gate).toHaveLength(2);
    expect(gate[0]).toMatch(/^SLOWER naive vs tfjs-wasm on /);
    expect(gate[1]).toMatch(/^REGRESSION /);
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
    expect(await page.locator('article.failure').count()).toBe(5); // 3 checks, a slower pair, a regression
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
