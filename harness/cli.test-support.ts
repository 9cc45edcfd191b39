// For the tests that run the command line: `convbench <args>` from the sources, in a child process,
// as CI runs it (CI=true: progress as plain lines).
import { spawnSync } from 'node:child_process';

export interface CliRun { code: number | null; stdout: string; stderr: string }

export function cli(...args: string[]): CliRun {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'harness/cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
