// The fast conv's helper thread. It raises flag[LOADED] once loaded, then takes chunks of each job
// it is sent (threads.ts drain); a failure sets flag[FAILED] and posts the reason on the reply port.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { Job } from './conv-jobs.ts';
import { drain, FAILED, LOADED } from './threads.ts';

export interface HelperData { flag: Int32Array; reply: MessagePort }
export interface HelperRequest { job: Job; chunks: number; base: number }

const { flag, reply } = workerData as HelperData;

parentPort?.on('message', (msg: HelperRequest) => {
  try {
    drain(msg.job, msg.chunks, msg.base, flag, 1);
  } catch (e) {
    reply.postMessage(e instanceof Error ? e.stack ?? e.message : String(e));
    Atomics.store(flag, FAILED, 1);
  }
});
Atomics.store(flag, LOADED, 1);
