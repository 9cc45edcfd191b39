// The units of work the fast conv splits between threads. A job is plain data (typed arrays over
// shared memory when a worker takes part), so the main thread and the worker run the same code on
// the chunks they take: runJob(job, part, parts, thread). Parts write disjoint outputs, except the
// Winograd filter gradient, which each thread sums into its own dU (zeroed by the caller).
import type { Conv2dGeometry } from '../../harness/geometry.ts';
import { columnsOf, gemmBackward, gemmForward } from './conv-gemm.ts';
import { depthwiseBackward, depthwiseForward } from './depthwise.ts';
import { NR } from './gemm.ts';
import { tilesOf, winogradConv, winogradFilterGrad, type WinogradPlan } from './winograd.ts';

export type Job =
  | { kind: 'winograd'; src: Float32Array; u: Float64Array; bias: Float32Array | undefined; dst: Float32Array; plan: WinogradPlan }
  | { kind: 'winogradFilterGrad'; x: Float32Array; dy: Float32Array; plan: WinogradPlan; dU: Float64Array; partLength: number }
  | { kind: 'gemm'; x: Float32Array; w: Float32Array; bias: Float32Array | undefined; y: Float32Array; g: Conv2dGeometry; call: number }
  | { kind: 'gemmBackward'; x: Float32Array; w: Float32Array; dy: Float32Array; dx: Float32Array; dw: Float32Array; g: Conv2dGeometry; call: number }
  | { kind: 'depthwise'; x: Float32Array; w: Float32Array; bias: Float32Array | undefined; y: Float32Array; g: Conv2dGeometry }
  | { kind: 'depthwiseBackward'; x: Float32Array; w: Float32Array; dy: Float32Array; dx: Float32Array; dw: Float32Array; g: Conv2dGeometry };

/** Part `part` of `parts` of [0, total), boundaries rounded to multiples of `align`. */
export function share(total: number, part: number, parts: number, align: number): [number, number] {
  const cut = (k: number) => Math.min(total, Math.round((total * k) / parts / align) * align);
  return [cut(part), part === parts - 1 ? total : cut(part + 1)];
}

export function runJob(job: Job, part: number, parts: number, thread: number): void {
  switch (job.kind) {
    case 'winograd': {
      const [t0, t1] = share(tilesOf(job.plan).tiles, part, parts, 1);
      winogradConv(job.src, job.u, job.bias, job.dst, job.plan, t0, t1);
      return;
    }
    case 'winogradFilterGrad': {
      const [t0, t1] = share(tilesOf(job.plan).tiles, part, parts, 1);
      const dU = job.dU.subarray(thread * job.partLength, (thread + 1) * job.partLength);
      winogradFilterGrad(job.x, job.dy, job.plan, t0, t1, dU);
      return;
    }
    case 'gemm': {
      const [j0, j1] = share(columnsOf(job.g), part, parts, NR);
      gemmForward(job.x, job.w, job.bias, job.y, job.g, j0, j1, job.call);
      return;
    }
    case 'gemmBackward': {
      const [c0, c1] = share(job.g.inChannels / job.g.groups, part, parts, 1);
      gemmBackward(job.x, job.w, job.dy, job.dx, job.dw, job.g, c0, c1, job.call);
      return;
    }
    case 'depthwise': {
      const [c0, c1] = share(job.g.inChannels, part, parts, 1);
      depthwiseForward(job.x, job.w, job.bias, job.y, job.g, c0, c1);
      return;
    }
    case 'depthwiseBackward': {
      const [c0, c1] = share(job.g.inChannels, part, parts, 1);
      depthwiseBackward(job.x, job.w, job.dy, job.dx, job.dw, job.g, c0, c1);
      return;
    }
  }
}
