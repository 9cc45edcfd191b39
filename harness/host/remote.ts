// An implementation under test as the harness sees it: a kernel host it talks to, never code it
// runs. Inputs go out as copies in the kernel's layout; what comes back is checked before anything
// else reads it: the inputs the host returns against what was sent (a kernel that wrote into its
// input), each output's shape in the kernel's own layout, and the host's own reports of aliasing.
import { Declined } from '../bench.ts';
import type { Case } from '../cases/load.ts';
import { axisNames } from '../compare.ts';
import type { Computation, Outputs, Prepared } from '../invoke.ts';
import { fromLayout, framesOf, methodOf, outputShapes, shapeIn } from '../invoke.ts';
import type { Layout } from '../layout.ts';
import { formatShape, sizeOf, unravel } from '../tensor.ts';
import { type HostCommand, HostFailure, type HostLimits, KernelHost } from './host.ts';
import type { ContractOp, Frame, Hello, Reply } from './protocol.ts';

/** A breach of the call contract, charged to one tensor. */
export interface Violation { tensor: string; problem: string }

export type CallOutcome =
  | { kind: 'returned'; outputs: Outputs; violations: Violation[]; kernelMs: number; roundTripMs: number }
  | { kind: 'declined'; reason: string }
  | { kind: 'errored'; error: string; stack: string[] };

/** What the kernel's supports() says of a computation, asked before it is sent. */
export type Support = { kind: 'supported' } | { kind: 'declined'; reason: string } | { kind: 'errored'; error: string; stack: string[] };

/** Bitwise equality (NaN payloads and signed zeros included); the first differing index or -1. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

function inputChange(sent: Frame, back: Frame | undefined, layout: Layout): string | undefined {
  if (!back) return `the host did not return input ${sent.name} after the call, so it cannot be checked`;
  if (formatShape(back.shape) !== formatShape(sent.shape)) return `the kernel changed input ${sent.name}'s shape from ${formatShape(sent.shape)} to ${formatShape(back.shape)}`;
  const i = firstDifference(sent.data, back.data);
  if (i < 0) return undefined;
  const axes = sent.shape.length === 4 ? ` (${axisNames(sent.name, 4, layout).join(', ')})` : '';
  return `the kernel wrote into its input ${sent.name}: ${sent.name}(${unravel(i, sent.shape).join(', ')})${axes} was ${sent.data[i]}, is now ${back.data[i]}`;
}

/** A host may answer a `time` request before `minMs` only with this many samples (its header must stay small). */
const MIN_SAMPLES_TO_STOP_EARLY = 10_000;

export class RemoteImplementation {
  private constructor(private host: KernelHost, readonly hello: Hello, readonly source: string) {}

  /** Starts the host and reads its handshake; throws HostFailure when it does not give one. */
  static async start(command: HostCommand, limits: HostLimits, source: string): Promise<RemoteImplementation> {
    const host = new KernelHost(command, limits, source);
    const hello = await host.start();
    return new RemoteImplementation(host, hello, source);
  }

  /** Set when two implementations in one run share a name (compare's head and base builds). */
  private label: string | undefined;
  get name(): string { return this.label ?? this.hello.name; }
  /** Names this implementation in every result and report instead of its own name. */
  relabel(name: string): void { this.label = name; }
  get layout(): Layout { return this.hello.layout; }
  /** Threads the kernel says it computes on (1 when it does not say). */
  get threads(): number { return this.hello.threads ?? 1; }
  get limits(): HostLimits { return this.host.limits; }
  /** How many times its host was started (1 + restarts after failures). */
  get starts(): number { return this.host.starts; }

  /** Why this computation will not be called: not implemented, or declined up front; else undefined. */
  unavailable(c: Case, computation: Computation): { state: 'skipped' | 'n/a'; reason: string } | undefined {
    const op: ContractOp = methodOf(c.op, computation);
    if (this.hello.ops.includes(op)) return undefined;
    const declined = this.hello.declines[op];
    return declined !== undefined ? { state: 'n/a', reason: declined } : { state: 'skipped', reason: `${this.name} does not implement ${op}` };
  }

  /**
   * Asks the host whether its kernel takes this computation (a `supports` request, protocol 2; a
   * version 1 host is not asked). Only the op and the geometry go out, no tensors. A supports()
   * that throws, answers something else than true or a reason, or hangs is an error.
   */
  async supports(c: Case, computation: Computation): Promise<Support> {
    if (this.hello.version < 2) return { kind: 'supported' };
    let reply: Reply;
    try {
      reply = await this.send({ type: 'supports', op: methodOf(c.op, computation), geometry: c.geometry }, [], 0, this.timeLimitOf(c));
    } catch (e) {
      if (e instanceof HostFailure) return { kind: 'errored', error: `supports(): ${e.message}`, stack: [] };
      throw e;
    }
    if (reply.type === 'supported') return { kind: 'supported' };
    if (reply.type === 'declined') return { kind: 'declined', reason: reply.reason };
    if (reply.type === 'error') return { kind: 'errored', error: reply.error, stack: reply.stack };
    return { kind: 'errored', error: `protocol error: a "${reply.type}" reply to a supports request`, stack: [] };
  }

  /** Requests in flight, in order: a host serves one at a time, whoever asks. */
  private queue: Promise<unknown> = Promise.resolve();

  /** One request to the host (started again first if it died), after those already asked. */
  private send(header: Record<string, unknown>, frames: readonly Frame[], replyElements: number, limitMs: number): Promise<Reply> {
    const turn = this.queue.then(async () => {
      // Once ended, an implementation stays ended: a lane still running (a test that timed out) gets an error, not a new host.
      if (this.ended) throw new HostFailure('failed to start', `${this.name}: its host was ended (the run is over)`);
      if (!this.host.alive) await this.host.start();
      return this.host.request(header, frames, replyElements, limitMs);
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** A request's header, its frames, the outputs it expects (in the kernel's layout), and how many elements the reply may carry. */
  private header(c: Case, computation: Computation): { header: Record<string, unknown>; frames: Frame[]; outputs: { name: string; shape: number[] }[]; expectedElements: number } {
    const frames = framesOf(c, computation, this.layout);
    const outputs = outputShapes(c, computation).map((o) => ({ name: o.name, shape: shapeIn(o.name, o.shape, this.layout) }));
    // The reply carries the outputs and then every input back.
    const expectedElements = outputs.reduce((n, o) => n + sizeOf(o.shape), 0) + frames.reduce((n, f) => n + f.data.length, 0);
    return { header: { op: methodOf(c.op, computation), geometry: c.geometry, outputs }, frames, outputs, expectedElements };
  }

  /** "<host start>/<case>/<computation>" of every call this host's process answered with a result: the kernel is warm there. */
  private answered = new Set<string>();
  private warmKey(c: Case, computation: Computation): string { return `${this.host.starts}/${c.id}/${computation}`; }

  private timeLimitOf(c: Case): number {
    return c.timeLimitMs ?? this.host.limits.callTimeLimitMs;
  }

  /** One call, checked; every failure of the kernel or its host is an outcome, never a throw. */
  async call(c: Case, computation: Computation): Promise<CallOutcome> {
    const { header, frames, outputs, expectedElements } = this.header(c, computation);
    const t0 = performance.now();
    let reply;
    try {
      reply = await this.send({ type: 'call', ...header }, frames, expectedElements, this.timeLimitOf(c));
    } catch (e) {
      if (e instanceof HostFailure) return { kind: 'errored', error: e.message, stack: [] };
      throw e;
    }
    const roundTripMs = performance.now() - t0;
    if (reply.type === 'result') this.answered.add(this.warmKey(c, computation));
    if (reply.type === 'declined') return { kind: 'declined', reason: reply.reason };
    if (reply.type === 'error') return { kind: 'errored', error: reply.error, stack: reply.stack };
    if (reply.type !== 'result') return { kind: 'errored', error: `protocol error: a "${reply.type}" reply to a call`, stack: [] };
    const violations: Violation[] = reply.violations.map((v) => ({ tensor: /^\w+/.exec(v)?.[0] ?? 'output', problem: v }));
    const got = new Map(reply.tensors.map((t) => [t.name, t]));
    for (const sent of frames) {
      const problem = inputChange(sent, got.get(sent.name), this.layout);
      if (problem) violations.push({ tensor: sent.name, problem });
    }
    const result: Outputs = {};
    for (const o of outputs) {
      const t = got.get(o.name);
      if (!t) { if (!violations.some((v) => v.tensor === o.name)) violations.push({ tensor: o.name, problem: `the host returned no ${o.name} (expected shape ${formatShape(o.shape)} in ${this.layout})` }); continue; }
      if (formatShape(t.shape) !== formatShape(o.shape)) {
        violations.push({ tensor: o.name, problem: `${o.name} has shape ${formatShape(t.shape)}, expected ${formatShape(o.shape)} in ${this.layout}` });
        continue;
      }
      const name = o.name === 'y' || o.name === 'dx' || o.name === 'dw' || o.name === 'db' || o.name === 'indices' ? o.name : undefined;
      if (name) result[name] = fromLayout(name, { shape: t.shape, data: t.data }, this.layout);
    }
    return { kind: 'returned', outputs: result, violations, kernelMs: reply.kernelMs, roundTripMs };
  }

  /**
   * A Prepared for the benchmarks and the gate: `call()` is a round trip, `measure()` asks the
   * host to time the kernel alone. A failure of the host while timed throws its HostFailure.
   */
  prepare(c: Case, computation: Computation): Prepared {
    const { header, frames, expectedElements } = this.header(c, computation);
    let callMs = 0;
    let lastMs: number | undefined;
    const raise = (what: string, r: Reply): never => {
      if (r.type === 'declined') throw new Declined(r.reason);
      throw new Error(`${what}: ${r.type === 'error' ? r.error : `a "${r.type}" reply`}`);
    };
    return {
      call: async () => {
        // Whether this host process had computed this case before the call: only then is the
        // call's own time a warm sample (lastKernelMs).
        const warm = this.answered.has(this.warmKey(c, computation));
        const t0 = performance.now();
        const r = await this.send({ type: 'call', ...header }, frames, expectedElements, this.timeLimitOf(c));
        const wallMs = performance.now() - t0;
        if (r.type !== 'result') raise(this.name, r);
        if (r.type === 'result') {
          callMs = r.kernelMs;
          this.answered.add(this.warmKey(c, computation));
          // What the host says it took must at least be possible.
          lastMs = warm && r.kernelMs > 0 && r.kernelMs <= wallMs ? r.kernelMs : undefined;
        }
        return r;
      },
      collect: () => ({}),
      lastKernelMs: () => lastMs,
      measure: async ({ warmup, iterations, minMs }) => {
        // A hung kernel must not hold a timing for the sum of every call's limit: bound the request
        // by the time limit plus ten times what the calls should take.
        const limit = this.timeLimitOf(c) + 2 * minMs + 10 * (warmup + iterations) * Math.max(callMs, 1);
        const t0 = performance.now();
        const r = await this.send({ type: 'time', ...header, warmup, iterations, minMs }, frames, 0, limit);
        const wallMs = performance.now() - t0;
        if (r.type !== 'timed') return raise(this.name, r);
        // The host measures itself; what it says must at least be possible.
        const sum = r.samplesMs.reduce((a, b) => a + b, 0);
        if (r.samplesMs.length < iterations || sum > wallMs || (sum < minMs && r.samplesMs.length < MIN_SAMPLES_TO_STOP_EARLY)) {
          throw new Error(`${this.name}: protocol error: ${r.samplesMs.length} samples adding up to ${sum.toFixed(3)} ms for a request of ` +
            `${iterations} calls and ${minMs} ms that took ${wallMs.toFixed(3)} ms`);
        }
        // A median of 0 ms would make every ratio to it infinite: a clock that cannot time this kernel.
        const sorted = [...r.samplesMs].sort((a, b) => a - b);
        if (!((sorted[Math.floor(sorted.length / 2)] ?? 0) > 0)) {
          throw new Error(`${this.name}: protocol error: the host's samples have a median of 0 ms (its clock cannot time this kernel)`);
        }
        callMs = Math.max(callMs, ...r.samplesMs);
        return r.samplesMs;
      },
    };
  }

  private ended = false;

  async close(): Promise<void> {
    this.ended = true;
    await this.host.close();
  }

  kill(): void {
    this.ended = true;
    this.host.kill();
  }
}
