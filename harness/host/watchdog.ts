// Enforces the hosts' limits from a thread of its own: the harness's main thread may be busy for
// seconds (reference64, an oracle), and a host must not grow past its memory cap or run past its
// call's deadline meanwhile. The thread polls each watched process's resident size (Linux /proc)
// and deadline, kills it with SIGKILL when it passes either, and says which one.
import { Worker } from 'node:worker_threads';

export type Verdict = 'memory' | 'time';

const POLL_MS = 25;

const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const watched = new Map();
parentPort.on('message', (m) => {
  if (m.type === 'watch') watched.set(m.pid, { cap: m.cap, deadline: 0 });
  else if (m.type === 'deadline') { const w = watched.get(m.pid); if (w) w.deadline = m.deadline; }
  else if (m.type === 'forget') watched.delete(m.pid);
});
setInterval(() => {
  const now = Date.now();
  for (const [pid, w] of watched) {
    let verdict;
    if (w.deadline && now > w.deadline) verdict = 'time';
    else {
      try { if (Number(readFileSync('/proc/' + pid + '/statm', 'utf8').split(' ')[1]) * 4096 > w.cap) verdict = 'memory'; } catch {}
    }
    if (verdict) {
      watched.delete(pid);
      parentPort.postMessage({ pid, verdict });
      try { process.kill(pid, 'SIGKILL'); } catch {}
    }
  }
}, ${POLL_MS});
`;

let worker: Worker | undefined;
const listeners = new Map<number, (v: Verdict) => void>();
const watching = new Set<number>();

function thread(): Worker {
  if (!worker) {
    worker = new Worker(SOURCE, { eval: true });
    worker.on('message', (m: { pid: number; verdict: Verdict }) => {
      watching.delete(m.pid);
      listeners.get(m.pid)?.(m.verdict);
      if (watching.size === 0) worker?.unref();
    });
    worker.unref();
  }
  return worker;
}

/** Watches `pid` against `capBytes`; `onKill` is told why the watchdog killed it. */
export function watch(pid: number, capBytes: number, onKill: (v: Verdict) => void): void {
  listeners.set(pid, onKill);
  watching.add(pid);
  const w = thread();
  w.ref();
  w.postMessage({ type: 'watch', pid, cap: capBytes });
}

/** Sets (epoch ms) or clears (0) the deadline of the call `pid` is computing. */
export function deadline(pid: number, atMs: number): void {
  worker?.postMessage({ type: 'deadline', pid, deadline: atMs });
}

export function forget(pid: number): void {
  listeners.delete(pid);
  if (!watching.delete(pid)) return;
  worker?.postMessage({ type: 'forget', pid });
  if (watching.size === 0) worker?.unref();
}
