// Enforces the hosts' limits from a thread of its own: the harness's main thread may be busy for
// seconds (reference64, an oracle), and a host must not grow past its memory cap meanwhile. The
// thread polls each host's resident size (Linux /proc; the host's whole process group, so that
// processes a kernel starts count too) and kills the group with SIGKILL past the cap.
//
// Deadlines have two steps. At a call's deadline the thread only tells the main thread, which
// first reads whatever reply is already in the pipe (a kernel that answered in time while the main
// thread was busy is not timed out), then kills. A host still running at the hard deadline (twice
// the limit and 30 s more) is killed by the thread itself, however busy the main thread is.
//
// The thread also ends every host and the harness itself when the harness's parent (the CLI
// wrapper) dies: nothing outlives the run.
import { Worker } from 'node:worker_threads';

export type Verdict = 'memory' | 'expired' | 'time';

const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { readdirSync, readFileSync } = require('node:fs');
const PAGE = 4096, POLL_MS = 25, GROUP_EVERY = 8;
const watched = new Map();
let parent = 0, tick = 0;
parentPort.on('message', (m) => {
  if (m.type === 'watch') watched.set(m.pid, { cap: m.cap, soft: 0, hard: 0, seq: 0 });
  else if (m.type === 'deadline') { const w = watched.get(m.pid); if (w) { w.soft = m.soft; w.hard = m.hard; w.seq = m.seq; } }
  else if (m.type === 'forget') watched.delete(m.pid);
  else if (m.type === 'parent') parent = m.ppid;
});
function rss(pid) {
  try { return Number(readFileSync('/proc/' + pid + '/statm', 'utf8').split(' ')[1]) * PAGE; } catch { return 0; }
}
/** Resident bytes of every process in each watched group (field 5 of /proc/<pid>/stat is the group). */
function groups() {
  const out = new Map();
  let pids = [];
  try { pids = readdirSync('/proc'); } catch { return out; }
  for (const p of pids) {
    if (p.charCodeAt(0) > 57) continue;
    let stat;
    try { stat = readFileSync('/proc/' + p + '/stat', 'utf8'); } catch { continue; }
    const group = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    if (watched.has(group)) out.set(group, (out.get(group) || 0) + rss(p));
  }
  return out;
}
function kill(pid) { try { process.kill(-pid, 'SIGKILL'); } catch {} try { process.kill(pid, 'SIGKILL'); } catch {} }
setInterval(() => {
  const now = Date.now();
  if (parent && process.ppid !== parent) {
    for (const pid of watched.keys()) kill(pid);
    process.kill(process.pid, 'SIGKILL');
  }
  const sizes = ++tick % GROUP_EVERY === 0 ? groups() : undefined;
  for (const [pid, w] of watched) {
    let verdict;
    if (w.hard && now > w.hard) verdict = 'time';
    else if ((sizes ? sizes.get(pid) || 0 : rss(pid)) > w.cap) verdict = 'memory';
    if (verdict) {
      watched.delete(pid);
      parentPort.postMessage({ pid, verdict, seq: w.seq });
      kill(pid);
    } else if (w.soft && now > w.soft) {
      w.soft = 0;
      parentPort.postMessage({ pid, verdict: 'expired', seq: w.seq });
    }
  }
}, POLL_MS);
`;

let worker: Worker | undefined;
const listeners = new Map<number, (v: Verdict, seq: number) => void>();

function thread(): Worker {
  if (!worker) {
    worker = new Worker(SOURCE, { eval: true });
    worker.on('message', (m: { pid: number; verdict: Verdict; seq: number }) => listeners.get(m.pid)?.(m.verdict, m.seq));
    worker.unref();
    worker.postMessage({ type: 'parent', ppid: process.ppid });
  }
  return worker;
}

/** Watches the host `pid` (a process group leader) against `capBytes`; `onVerdict` hears why, and for which deadline. */
export function watch(pid: number, capBytes: number, onVerdict: (v: Verdict, seq: number) => void): void {
  listeners.set(pid, onVerdict);
  const w = thread();
  w.ref();
  w.postMessage({ type: 'watch', pid, cap: capBytes });
}

let sequence = 0;

/**
 * The time of the call `pid` computes is up at `limitMs` from now; `undefined`: no call in flight.
 * Returns the deadline's number, which every verdict about it carries (a verdict about an earlier
 * deadline is stale).
 */
export function deadline(pid: number, limitMs: number | undefined): number {
  if (limitMs !== undefined && !(limitMs > 0 && Number.isFinite(limitMs))) throw new RangeError(`a time limit must be a finite number of ms > 0, got ${limitMs}`);
  const now = Date.now();
  const seq = ++sequence;
  worker?.postMessage({ type: 'deadline', pid, seq, soft: limitMs ? now + limitMs : 0, hard: limitMs ? now + 2 * limitMs + 30_000 : 0 });
  return seq;
}

export function forget(pid: number): void {
  if (!listeners.delete(pid)) return;
  worker?.postMessage({ type: 'forget', pid });
  if (listeners.size === 0) worker?.unref();
}
