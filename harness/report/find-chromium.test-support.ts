// Where the HTML report's browser test (html.browser.test.ts) finds a Chromium, and what it does
// without one. It looks, in order, at:
//   1. $CONVBENCH_CHROMIUM, a Chromium or Chrome binary of your choice;
//   2. the system's: /usr/bin/chromium (Debian's package, what `npm run setup:browser` installs),
//      /usr/bin/chromium-browser, /usr/bin/google-chrome, /usr/bin/google-chrome-stable, /snap/bin/chromium;
//   3. Playwright's download cache: $PLAYWRIGHT_BROWSERS_PATH or ~/.cache/ms-playwright, its
//      chromium-*/chrome-linux/chrome (or chrome-linux64/chrome), newest first.
// scripts/setup-browser.sh checks the same places before it installs anything.
// Without a Chromium the test skips itself and says why; under CI=true a missing Chromium fails it.
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const SYSTEM_CHROMIUMS = [
  '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable', '/snap/bin/chromium',
];

type Env = Record<string, string | undefined>;

/** What the lookup may ask of the file system; fakes in the tests. */
export interface Probe {
  /** An executable regular file is there. */
  isExecutable(path: string): boolean;
  /** The names in a folder; [] when there is none. */
  list(dir: string): string[];
}

export const realProbe: Probe = {
  isExecutable(path) {
    try {
      accessSync(path, constants.X_OK);
      return statSync(path).isFile();
    } catch {
      return false;
    }
  },
  list(dir) {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  },
};

const playwrightCache = (env: Env) => env.PLAYWRIGHT_BROWSERS_PATH || join(env.HOME || homedir(), '.cache', 'ms-playwright');

/** Playwright's Chromium binaries, newest revision first. */
function playwrightChromiums(env: Env, probe: Probe): string[] {
  const cache = playwrightCache(env);
  const revision = (name: string) => Number(name.slice('chromium-'.length));
  return probe.list(cache).filter((n) => /^chromium-\d+$/.test(n)).sort((a, b) => revision(b) - revision(a))
    .flatMap((n) => [join(cache, n, 'chrome-linux', 'chrome'), join(cache, n, 'chrome-linux64', 'chrome')]);
}

export interface Lookup {
  /** The first candidate that is an executable file, if any. */
  path?: string;
  /** Where it looked, for the message when nothing is found. */
  looked: string[];
  /** Set when CONVBENCH_CHROMIUM names something that is not an executable file. */
  badOverride?: string;
}

export function findChromium(env: Env, probe: Probe): Lookup {
  const override = env.CONVBENCH_CHROMIUM || undefined;
  const candidates = [...(override ? [override] : []), ...SYSTEM_CHROMIUMS, ...playwrightChromiums(env, probe)];
  const path = candidates.find((c) => probe.isExecutable(c));
  const looked = [...(override ? [`CONVBENCH_CHROMIUM=${override}`] : []), ...SYSTEM_CHROMIUMS, join(playwrightCache(env), 'chromium-*', 'chrome-linux', 'chrome')];
  return { ...(path ? { path } : {}), looked, ...(override && path !== override ? { badOverride: override } : {}) };
}

/** Run the browser test with this binary, skip it (and say why), or fail it. */
export type BrowserPlan = { kind: 'run'; path: string; note: string } | { kind: 'skip'; reason: string } | { kind: 'fail'; reason: string };

export function browserPlan(env: Env, lookup: Lookup): BrowserPlan {
  const bad = lookup.badOverride ? `CONVBENCH_CHROMIUM=${lookup.badOverride} is not an executable file` : '';
  if (lookup.path) return { kind: 'run', path: lookup.path, note: bad ? `${bad}; using ${lookup.path}` : lookup.path };
  const reason = `no Chromium found (looked at ${lookup.looked.join(', ')}): install one (\`npm run setup:browser\` as root installs ` +
    "Debian's chromium) or set CONVBENCH_CHROMIUM to a Chromium or Chrome binary";
  return env.CI === 'true' ? { kind: 'fail', reason: `CI=true, so a missing browser fails the test: ${reason}` } : { kind: 'skip', reason };
}
