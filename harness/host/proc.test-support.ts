// For the isolation tests: which processes are alive, read from Linux's /proc.
import { readdirSync, readFileSync } from 'node:fs';

/** Processes whose command line (arguments joined by spaces) contains `text`. */
export function processesWith(text: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(text) ? [Number(p)] : [];
    } catch {
      return [];
    }
  });
}
