// For the isolation tests: which processes are alive, read from Linux's /proc.
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Processes whose command line (arguments joined by spaces) contains `text`; with `variable`, only
 * those whose environment has that NAME=value entry too (a test's own processes, not another test
 * file's running the same fixture at the same time).
 */
export function processesWith(text: string, variable?: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      if (!readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(text)) return [];
      return variable === undefined || readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes(variable) ? [Number(p)] : [];
    } catch {
      return [];
    }
  });
}
