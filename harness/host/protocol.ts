// The kernel host protocol (docs/host-protocol.md): a JSON header line followed by raw little-endian
// float32 frames. Shared by the harness (parent) and its Node host (child); nothing here trusts the
// other side: every header is parsed into a checked shape, every frame size is bounded.
import { isRecord } from '../guards.ts';
import { sizeOf } from '../tensor.ts';

export const PROTOCOL = 'convbench-host';
/** What our hosts speak; the harness also takes version 1 hosts (which get no `supports` requests). */
export const PROTOCOL_VERSION = 2;
export const PROTOCOL_VERSIONS = [1, 2] as const;
export type ProtocolVersion = (typeof PROTOCOL_VERSIONS)[number];
/** Our Node host answers on this descriptor, so that anything writing to fd 1 only reaches the log. */
export const NODE_PROTOCOL_FD = 3;
/** A header line longer than this is a protocol error (a host printing garbage, or a huge claim). */
export const MAX_HEADER_BYTES = 1 << 20;

export const CONTRACT_OPS = [
  'conv2d', 'conv2dBackward', 'maxPool2d', 'maxPool2dBackward', 'maxPool2dWithIndices', 'avgPool2d', 'avgPool2dBackward',
] as const;
export type ContractOp = (typeof CONTRACT_OPS)[number];
export const isContractOp = (v: unknown): v is ContractOp => CONTRACT_OPS.some((op) => op === v);

export interface FrameSpec { name: string; shape: number[] }
export interface Frame extends FrameSpec { data: Float32Array }

export interface Hello {
  version: ProtocolVersion; name: string; layout: 'NCHW' | 'NHWC'; ops: ContractOp[]; declines: Partial<Record<ContractOp, string>>;
  /** Threads the kernel computes on, when the host says (optional in both versions). */
  threads?: number;
}

export type Reply =
  | { type: 'result'; id: number; kernelMs: number; tensors: Frame[]; violations: string[] }
  | { type: 'timed'; id: number; samplesMs: number[] }
  | { type: 'error'; id: number; error: string; stack: string[] }
  | { type: 'declined'; id: number; reason: string }
  | { type: 'supported'; id: number };

/** A name the reports can show as it is: letters, digits and . _ - + (1-64 characters). */
export const NAME_PATTERN = /^[A-Za-z0-9._+-]{1,64}$/;

/** One message: the header line, then each tensor's bytes in order. */
export function encode(header: Record<string, unknown>, tensors: readonly Frame[] = []): Buffer[] {
  const specs = tensors.map((t) => ({ name: t.name, shape: t.shape }));
  const head = Buffer.from(`${JSON.stringify(tensors.length ? { ...header, tensors: specs } : header)}\n`, 'utf8');
  return [head, ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
}

export class ProtocolError extends Error {}

function frameSpecs(v: unknown, maxElements: number): FrameSpec[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > 16) throw new ProtocolError('"tensors" must be a list of at most 16 { name, shape }');
  let total = 0;
  return v.map((t, i) => {
    if (!isRecord(t) || typeof t.name !== 'string' || !Array.isArray(t.shape) || t.shape.length > 8) {
      throw new ProtocolError(`tensors[${i}] is not { name, shape }`);
    }
    const shape = t.shape.map((d) => (typeof d === 'number' && Number.isInteger(d) && d >= 0 ? d : Number.NaN));
    if (shape.some(Number.isNaN)) throw new ProtocolError(`tensors[${i}] ("${t.name.slice(0, 40)}") has a shape that is not a list of integers >= 0`);
    total += sizeOf(shape);
    if (!(total <= maxElements)) throw new ProtocolError(`tensors claim ${total} elements, more than the ${maxElements} this message can carry`);
    return { name: t.name, shape };
  });
}

/**
 * Reads messages from a byte stream: header lines and the frames they announce. `maxElements`
 * bounds what one message may claim, so a lying header cannot make the reader allocate.
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private pending: { header: Record<string, unknown>; specs: FrameSpec[]; bytes: number } | undefined;

  constructor(private maxElements: () => number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }

  /** The next whole message, or undefined until more bytes arrive; throws ProtocolError. */
  next(): { header: Record<string, unknown>; tensors: Frame[] } | undefined {
    if (!this.pending) {
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      this.chunks = all.length ? [all] : [];
      const nl = all.indexOf(10);
      if (nl < 0) {
        if (all.length > MAX_HEADER_BYTES) throw new ProtocolError(`a header line longer than ${MAX_HEADER_BYTES} bytes`);
        return undefined;
      }
      const line = this.take(nl + 1).subarray(0, nl).toString('utf8');
      let header: unknown;
      try {
        header = JSON.parse(line);
      } catch {
        throw new ProtocolError(`not a protocol message: ${JSON.stringify(line.slice(0, 120))}`);
      }
      if (!isRecord(header)) throw new ProtocolError(`not a protocol message: ${JSON.stringify(line.slice(0, 120))}`);
      const specs = frameSpecs(header.tensors, this.maxElements());
      this.pending = { header, specs, bytes: 4 * specs.reduce((n, s) => n + sizeOf(s.shape), 0) };
    }
    const p = this.pending;
    if (this.buffered < p.bytes) return undefined;
    this.pending = undefined;
    const body = this.take(p.bytes);
    let offset = 0;
    const tensors = p.specs.map((s) => {
      const n = sizeOf(s.shape);
      // A copy: aligned, and owned by the receiver.
      const data = new Float32Array(n);
      new Uint8Array(data.buffer).set(body.subarray(offset, offset + 4 * n));
      offset += 4 * n;
      return { ...s, data };
    });
    return { header: p.header, tensors };
  }
}

const strings = (v: unknown, max: number): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string').slice(0, max).map((s) => s.slice(0, 500)) : []);
const text = (v: unknown, fallback: string): string => (typeof v === 'string' ? v.slice(0, 4000) : fallback);

/** The handshake, checked. */
export function parseHello(h: Record<string, unknown>): Hello {
  if (h.protocol !== PROTOCOL) throw new ProtocolError(`the first message is not a convbench-host handshake (no "protocol": "${PROTOCOL}")`);
  const version = PROTOCOL_VERSIONS.find((v) => v === h.version);
  if (version === undefined) throw new ProtocolError(`protocol version ${JSON.stringify(h.version)?.slice(0, 20)}; this convbench speaks versions ${PROTOCOL_VERSIONS.join(' and ')}`);
  if (typeof h.name !== 'string' || !NAME_PATTERN.test(h.name)) {
    throw new ProtocolError(`"name" must be 1-64 letters, digits, '.', '_', '-' or '+', got ${JSON.stringify(h.name)?.slice(0, 80)}`);
  }
  if (h.layout !== 'NCHW' && h.layout !== 'NHWC') throw new ProtocolError(`"layout" must be "NCHW" or "NHWC", got ${JSON.stringify(h.layout)?.slice(0, 40)}`);
  if (!Array.isArray(h.ops)) throw new ProtocolError('"ops" must be a list of contract ops');
  const ops: ContractOp[] = [];
  for (const op of h.ops) {
    if (!isContractOp(op)) throw new ProtocolError(`"ops" names ${JSON.stringify(op)?.slice(0, 40)}, not one of ${CONTRACT_OPS.join(', ')}`);
    if (!ops.includes(op)) ops.push(op);
  }
  const declines: Partial<Record<ContractOp, string>> = {};
  if (isRecord(h.declines)) {
    for (const [op, reason] of Object.entries(h.declines)) {
      if (!isContractOp(op)) throw new ProtocolError(`"declines" names ${JSON.stringify(op).slice(0, 40)}, not a contract op`);
      declines[op] = text(reason, 'declined');
    }
  }
  if (h.threads !== undefined && !(Number.isInteger(h.threads) && typeof h.threads === 'number' && h.threads >= 1 && h.threads <= 1024)) {
    throw new ProtocolError(`"threads" must be an integer from 1 to 1024, got ${JSON.stringify(h.threads)?.slice(0, 40)}`);
  }
  return { version, name: h.name, layout: h.layout, ops, declines, ...(typeof h.threads === 'number' ? { threads: h.threads } : {}) };
}

/** A reply to request `id`, checked. */
export function parseReply(h: Record<string, unknown>, tensors: Frame[], id: number): Reply {
  if (h.id !== id) throw new ProtocolError(`a reply for request ${JSON.stringify(h.id)?.slice(0, 20)} while request ${id} was waiting`);
  switch (h.type) {
    case 'result': {
      if (!(typeof h.kernelMs === 'number' && Number.isFinite(h.kernelMs) && h.kernelMs >= 0)) throw new ProtocolError('"kernelMs" must be a finite time >= 0');
      return { type: 'result', id, kernelMs: h.kernelMs, tensors, violations: strings(h.violations, 16) };
    }
    case 'timed': {
      const samples = Array.isArray(h.samplesMs) ? h.samplesMs : [];
      if (samples.length === 0 || !samples.every((s): s is number => typeof s === 'number' && Number.isFinite(s) && s >= 0)) {
        throw new ProtocolError('"samplesMs" must be a non-empty list of finite times >= 0');
      }
      return { type: 'timed', id, samplesMs: samples };
    }
    case 'error': return { type: 'error', id, error: text(h.error, 'an error without a message'), stack: strings(h.stack, 8) };
    case 'declined': return { type: 'declined', id, reason: text(h.reason, 'declined') };
    case 'supported': return { type: 'supported', id };
    default: throw new ProtocolError(`unknown reply type ${JSON.stringify(h.type)?.slice(0, 40)}`);
  }
}
