// For the tests that run the command line: `convbench <args>` in a child process, as CI runs it
// (CI=true: progress as plain lines), from this test run's fresh build of the sources
// (harness/build.test-support.ts): plain JavaScript, as an installed convbench runs.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { testBuild } from './build.test-support.ts';

export interface CliRun { code: number | null; stdout: string; stderr: string }

export function cli(...args: string[]): CliRun {
  const r = spawnSync(process.execPath, [join(testBuild(), 'harness', 'cli.js'), ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
