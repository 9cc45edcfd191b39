// Which Chromium the browser test drives, and whether it runs, skips or fails without one: the
// lookup against a fake file system, the decision for each environment.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { browserPlan, findChromium, type Probe, realProbe, SYSTEM_CHROMIUMS } from './find-chromium.test-support.ts';

/** A file system holding only these executables (and the folders above them). */
function fake(executables: string[]): Probe {
  return {
    isExecutable: (path) => executables.includes(path),
    list: (dir) => [...new Set(executables.filter((e) => e.startsWith(`${dir}/`)).map((e) => e.slice(dir.length + 1).split('/')[0]))],
  };
}

const HOME = '/home/dev';
const CACHE = `${HOME}/.cache/ms-playwright`;

describe('findChromium', () => {
  it('takes CONVBENCH_CHROMIUM first', () => {
    const env = { HOME, CONVBENCH_CHROMIUM: '/opt/chrome/chrome' };
    expect(findChromium(env, fake(['/opt/chrome/chrome', '/usr/bin/chromium'])).path).toBe('/opt/chrome/chrome');
  });

  it('then the system\'s, in order', () => {
    expect(findChromium({ HOME }, fake(['/usr/bin/google-chrome', '/usr/bin/chromium-browser'])).path).toBe('/usr/bin/chromium-browser');
    expect(findChromium({ HOME }, fake(['/usr/bin/chromium', `${CACHE}/chromium-1200/chrome-linux/chrome`])).path).toBe('/usr/bin/chromium');
  });

  it('then Playwright\'s cache, the newest revision, in either layout', () => {
    expect(findChromium({ HOME }, fake([`${CACHE}/chromium-999/chrome-linux/chrome`, `${CACHE}/chromium-1200/chrome-linux/chrome`])).path)
      .toBe(`${CACHE}/chromium-1200/chrome-linux/chrome`);
    expect(findChromium({ HOME }, fake([`${CACHE}/chromium-1300/chrome-linux64/chrome`])).path).toBe(`${CACHE}/chromium-1300/chrome-linux64/chrome`);
    expect(findChromium({ HOME, PLAYWRIGHT_BROWSERS_PATH: '/pw' }, fake(['/pw/chromium-1/chrome-linux/chrome'])).path).toBe('/pw/chromium-1/chrome-linux/chrome');
    // The headless shell's folder is not looked in.
    expect(findChromium({ HOME }, fake([`${CACHE}/chromium_headless_shell-1200/chrome-linux/chrome`])).path).toBeUndefined();
  });

  it('falls back when CONVBENCH_CHROMIUM names nothing, and says so', () => {
    const lookup = findChromium({ HOME, CONVBENCH_CHROMIUM: '/missing/chrome' }, fake(['/usr/bin/chromium']));
    expect(lookup).toMatchObject({ path: '/usr/bin/chromium', badOverride: '/missing/chrome' });
    const plan = browserPlan({}, lookup);
    expect(plan).toEqual({ kind: 'run', path: '/usr/bin/chromium', note: 'CONVBENCH_CHROMIUM=/missing/chrome is not an executable file; using /usr/bin/chromium' });
  });
});

describe('browserPlan', () => {
  const nothing = findChromium({ HOME, CONVBENCH_CHROMIUM: '/missing/chrome' }, fake([]));

  it('runs with what it found', () => {
    expect(browserPlan({ CI: 'true' }, findChromium({ HOME }, fake(['/usr/bin/chromium'])))).toEqual({ kind: 'run', path: '/usr/bin/chromium', note: '/usr/bin/chromium' });
  });

  it('skips, saying where it looked and what to do, when nothing is found outside CI', () => {
    for (const env of [{}, { CI: 'false' }, { CI: '1' }, { CI: '' }]) {
      const plan = browserPlan(env, nothing);
      expect(plan.kind, JSON.stringify(env)).toBe('skip');
      const reason = plan.kind === 'skip' ? plan.reason : '';
      for (const place of ['CONVBENCH_CHROMIUM=/missing/chrome', ...SYSTEM_CHROMIUMS, `${CACHE}/chromium-*/chrome-linux/chrome`]) expect(reason).toContain(place);
      expect(reason).toContain('npm run setup:browser');
    }
  });

  it('fails under CI=true when CONVBENCH_CHROMIUM names a missing file and no other candidate is there', () => {
    const plan = browserPlan({ CI: 'true' }, nothing);
    expect(plan.kind).toBe('fail');
    expect(plan.kind === 'fail' ? plan.reason : '').toMatch(/^CI=true, so a missing browser fails the test: no Chromium found \(looked at CONVBENCH_CHROMIUM=\/missing\/chrome, /);
  });
});

describe('realProbe', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convbench-chromium-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('wants an executable regular file', () => {
    const plain = join(dir, 'not-executable');
    writeFileSync(plain, '');
    chmodSync(plain, 0o644);
    const runnable = join(dir, 'chrome');
    writeFileSync(runnable, '#!/bin/sh\n');
    chmodSync(runnable, 0o755);
    expect(realProbe.isExecutable(runnable)).toBe(true);
    expect(realProbe.isExecutable(join(dir, 'absent'))).toBe(false);
    expect(realProbe.isExecutable(dir)).toBe(false);
    // Root may execute a file with no x bit set only if some x bit is set; 0644 has none.
    expect(realProbe.isExecutable(plain)).toBe(false);
    expect(realProbe.list(dir).sort()).toEqual(['chrome', 'not-executable']);
    expect(realProbe.list(join(dir, 'absent'))).toEqual([]);
  });
});
