// Progress for long runs: a redrawn bar on a terminal; on CI or a pipe, a line every few seconds.
// The label names cases and engines, so it is made safe for the terminal (harness/terminal.ts).
import { safe, safeLine } from './terminal.ts';

export interface Progress { update(done: number, total: number, label: string): void; done(): void }
/** What progress writes to: process.stderr, or a test's recorder. */
export interface ProgressStream { isTTY?: boolean; columns?: number; write(text: string): unknown }

export function progress(phase: string, stream: ProgressStream = process.stderr): Progress {
  const interactive = stream.isTTY === true && process.env.CI !== 'true';
  const started = Date.now();
  let lastLine = 0;
  return {
    update(done, total, label) {
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      if (interactive) {
        const width = 24;
        const filled = total ? Math.round((done / total) * width) : width;
        const text = safeLine(`${safe(phase)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${seconds}s ${safe(label)}`);
        const cols = stream.columns ?? 100;
        stream.write(`\r${text.slice(0, cols - 1).padEnd(cols - 1)}`);
      } else if (Date.now() - lastLine > 5000 || done === total) {
        lastLine = Date.now();
        stream.write(`${safeLine(`${safe(phase)}: ${done}/${total} (${seconds} s)`)}\n`);
      }
    },
    done() {
      if (interactive) stream.write(`\r${' '.repeat((stream.columns ?? 100) - 1)}\r`);
    },
  };
}
