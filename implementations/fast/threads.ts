// Both cores: the main thread runs part 0 of a job while one helper worker runs part 1; the main
// thread then blocks on a shared flag (Atomics.wait), which costs microseconds where a message
// round trip costs tens of them. The helper starts when conv2d.ts is loaded, is unref'd
// (it never keeps the process alive) and is loaded from worker.ts under a TypeScript loader or
// worker.js in the build, by the extension this module itself has.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { type Job, runJob } from './conv-jobs.ts';
import type { HelperData, HelperRequest } from './worker.ts';

/** Threads the fast conv computes on. */
export const THREADS = Math.min(2, availableParallelism());

// Slots of the shared flag array: the helper has loaded; the next chunk ticket (tickets only grow,
// a job owns [base, base + chunks)); chunks done of the current job; the helper failed.
export const LOADED = 0, NEXT = 1, DONE = 2, FAILED = 3;

/**
 * Runs chunks of the job until its tickets are gone; `thread` is 0 here, 1 in the helper. A ticket
 * is taken by compare-and-swap, so a helper that wakes after its job ended takes none of the next.
 */
export function drain(job: Job, chunks: number, base: number, flag: Int32Array, thread: number): void {
  for (;;) {
    const ticket = Atomics.load(flag, NEXT);
    if (ticket - base >= chunks) return;
    if (Atomics.compareExchange(flag, NEXT, ticket, ticket + 1) !== ticket) continue;
    try {
      runJob(job, ticket - base, chunks, thread);
    } catch (e) {
      // Before the chunk counts as done: whoever waits for DONE must see the failure with it.
      Atomics.store(flag, FAILED, 1);
      throw e;
    } finally {
      Atomics.add(flag, DONE, 1);
      Atomics.notify(flag, DONE);
    }
  }
}

interface Helper { worker: Worker; flag: Int32Array; replies: MessagePort }
let helper: Helper | undefined;
let broken = false;

function startHelper(): Helper {
  const flag = new Int32Array(new SharedArrayBuffer(16));
  const { port1, port2 } = new MessageChannel();
  const data: HelperData = { flag, reply: port2 };
  const options = { workerData: data, transferList: [port2] };
  let worker: Worker;
  if (import.meta.url.endsWith('.ts')) {
    // From the sources: a worker inherits no TypeScript loader in Node 20 (module hooks stay with
    // the thread that registered them), so a CommonJS bootstrap registers tsx's require hook in the
    // worker and requires worker.ts through it.
    const require = createRequire(import.meta.url);
    const api = require.resolve('tsx/cjs/api');
    const entry = fileURLToPath(new URL('./worker.ts', import.meta.url));
    const boot = `require(${JSON.stringify(api)}).register(); require(${JSON.stringify(entry)});`;
    worker = new Worker(boot, { ...options, eval: true });
  } else {
    worker = new Worker(new URL('./worker.js', import.meta.url), options);
  }
  worker.unref();
  port1.unref();
  worker.on('error', () => { broken = true; helper = undefined; });
  return { worker, flag, replies: port1 };
}

/** Whether a job of this many multiply-adds is worth a second thread. */
export function worthThreads(macs: number): boolean {
  return THREADS > 1 && !broken && macs >= 20_000_000;
}

/**
 * Runs the job's chunks on this thread and the helper, each taking the next chunk as it finishes
 * one, so a helper the OS schedules late (this machine is shared) costs at most a chunk. Until the
 * helper has loaded (it loads while this thread waits between calls; blocking here would stall its
 * start), or if it never does, every chunk runs here.
 */
export function runShared(job: Job, chunks: number): void {
  if (!broken) helper ??= startHelper();
  const h = helper;
  const flag = h?.flag;
  if (!h || !flag || Atomics.load(flag, LOADED) === 0) {
    for (let k = 0; k < chunks; k++) runJob(job, k, chunks, 0);
    return;
  }
  while (receiveMessageOnPort(h.replies)) { /* a reason left by an earlier failure */ }
  const base = Atomics.load(flag, NEXT);
  Atomics.store(flag, DONE, 0);
  Atomics.store(flag, FAILED, 0);
  const request: HelperRequest = { job, chunks, base };
  h.worker.postMessage(request);
  let failure: unknown;
  try { drain(job, chunks, base, flag, 0); } catch (e) { failure = e; }
  // Every chunk done, even after a failure here: the helper must not still be writing into the
  // shared buffers when the next call reuses them.
  while (Atomics.load(flag, DONE) < chunks) Atomics.wait(flag, DONE, Atomics.load(flag, DONE), 1000);
  if (failure !== undefined) throw failure;
  if (Atomics.load(flag, FAILED) !== 0) {
    // The helper posts its reason just after it flags the failure: wait for it a little.
    let reason = receiveMessageOnPort(h.replies);
    for (let i = 0; i < 100 && !reason; i++) { Atomics.wait(flag, LOADED, 1, 10); reason = receiveMessageOnPort(h.replies); }
    throw new Error(`fast conv helper thread failed: ${reason ? String(reason.message) : 'no reason given'}`);
  }
}

/** Starts the helper if need be and says whether it has loaded (for tests that want both threads). */
export function helperLoaded(): boolean {
  if (THREADS > 1 && !broken) helper ??= startHelper();
  return helper !== undefined && Atomics.load(helper.flag, LOADED) === 1;
}
