// The Node kernel host: a child process that loads one implementation module (built-in or a
// user's .ts / .js file) and serves the host protocol (docs/host-protocol.md): requests on stdin,
// replies on fd 3.
// Whatever the kernel does (loops, exits, writes into its inputs, prints) happens here, not in the
// harness. This side only reports; the harness checks.
//
//   node-host.ts builtin:<name> | <module path>
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { consume } from '../bench.ts';
import { FROM_SOURCE, ownModule } from '../paths.ts';
import { isRecord } from '../guards.ts';
import { type Implementation, implementationProblem, isImplementation } from '../implementation.ts';
import { computationOf, INPUTS, OUTPUTS } from '../invoke.ts';
import {
  CONTRACT_OPS, type ContractOp, encode, type Frame, isContractOp, MessageReader, NODE_PROTOCOL_FD, PROTOCOL, PROTOCOL_VERSION,
} from './protocol.ts';
import { describeThrown } from './thrown.ts';

// Replies go out on fd 3; fd 1 and fd 2 go to the harness's log of this host, so nothing a kernel
// (or a process it starts, or native code) prints can reach the protocol.
const protocolOut = new Socket({ fd: NODE_PROTOCOL_FD, readable: false, writable: true });
const send = (header: Record<string, unknown>, tensors: readonly Frame[] = []): void => {
  for (const b of encode(header, tensors)) protocolOut.write(b);
};

// If the harness dies without closing our stdin (SIGKILL), a kernel stuck in a synchronous loop
// would keep this process alive; a watchdog thread, which runs beside that loop, ends it and the
// process group it leads (whatever the kernel started).
const parent = process.ppid;
new Worker(`
  setInterval(() => {
    if (process.ppid === ${parent}) return;
    try { process.kill(-${process.pid}, 'SIGKILL'); } catch {}
    process.kill(${process.pid}, 'SIGKILL');
  }, 500);
`, { eval: true }).unref();

/** Samples one `time` reply may carry (its header stays far below the protocol's 1 MiB). */
const MAX_SAMPLES = 20_000;

class LoadError extends Error {}

/** A user's TypeScript kernel, in the build (plain Node 20 cannot strip types): tsx, registered only then. */
const TYPESCRIPT = /\.[cm]?tsx?$/;

async function load(spec: string): Promise<Implementation> {
  const url = spec.startsWith('builtin:')
    ? pathToFileURL(ownModule(`implementations/${spec.slice('builtin:'.length)}/index`)).href
    : pathToFileURL(resolve(spec)).href;
  let mod: unknown;
  try {
    if (!FROM_SOURCE && TYPESCRIPT.test(spec)) {
      // Both loaders: in a CommonJS package (npm init's default) a .ts file is a CommonJS module.
      (await import('tsx/esm/api')).register();
      (await import('tsx/cjs/api')).register();
    }
    mod = await import(url);
  } catch (e) {
    throw new LoadError(`cannot import: ${describeThrown(e).message.split('\n')[0]}`);
  }
  // A module compiled as CommonJS (a .ts outside a "type": "module" package) arrives wrapped once
  // more: the inner object is the kernel, and what is wrong with it is what the error names.
  const value = isRecord(mod) ? mod.default : undefined;
  const inner = isRecord(value) && !isImplementation(value) && isRecord(value.default) ? value.default : undefined;
  const impl = inner ?? value;
  if (!isImplementation(impl)) throw new LoadError(`not an implementation: ${implementationProblem(impl)}`);
  return impl;
}

/** The contract method's arguments for an op, from the request's tensors and geometry. */
function argumentsOf(op: ContractOp, t: Map<string, Frame>, g: unknown): unknown[] {
  const { op: caseOp, computation } = computationOf(op);
  return [...INPUTS[computation][caseOp].map((name) => t.get(name)), g];
}

/** Checks one returned value against the expected output; returns the tensor or why not. */
function outputOf(v: unknown, name: string, shape: readonly number[]): Frame | string {
  const want = `[${shape.join(', ')}]`;
  if (!isRecord(v) || !(v.data instanceof Float32Array) || !Array.isArray(v.shape)) {
    return `${name} is not a tensor { shape: number[], data: Float32Array } (expected shape ${want})`;
  }
  const claimed = v.shape.slice(0, 9);
  if (!claimed.every((d): d is number => typeof d === 'number' && Number.isInteger(d) && d >= 0) || v.shape.length > 8) {
    return `${name} has shape ${JSON.stringify(v.shape.slice(0, 8))?.slice(0, 80)}, not a list of integers (expected ${want})`;
  }
  const n = claimed.reduce((a, b) => a * b, 1);
  if (n !== v.data.length) return `${name} claims shape [${claimed.join(', ')}] (${n} elements) but holds ${v.data.length} values (expected ${want})`;
  if (claimed.length !== shape.length || claimed.some((d, i) => d !== shape[i])) return `${name} has shape [${claimed.join(', ')}], expected ${want}`;
  return { name, shape: [...shape], data: v.data };
}

/** The raw result as named values: a tensor for one output, a { dx, dw, db } record for conv backward. */
function named(op: ContractOp, raw: unknown): Map<string, unknown> {
  const { op: caseOp, computation } = computationOf(op);
  const names = OUTPUTS[computation][caseOp];
  if (names.length === 1) return new Map([[names[0], raw]]);
  return new Map(names.map((n) => [n, isRecord(raw) ? raw[n] : undefined]));
}

async function serve(impl: Implementation): Promise<void> {
  const ops = CONTRACT_OPS.filter((op) => typeof impl[op] === 'function');
  send({ protocol: PROTOCOL, version: PROTOCOL_VERSION, name: impl.name, layout: impl.layout, ops, ...(impl.threads !== undefined ? { threads: impl.threads } : {}) });
  const reader = new MessageReader(() => 2 ** 31);
  const queue: { header: Record<string, unknown>; tensors: Frame[] }[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  process.stdin.on('data', (chunk: Buffer) => {
    reader.push(chunk);
    for (let m = reader.next(); m; m = reader.next()) queue.push(m);
    wake?.();
  });
  process.stdin.on('end', () => { ended = true; wake?.(); });
  for (;;) {
    const m = queue.shift();
    if (!m) {
      if (ended) break;
      await new Promise<void>((r) => { wake = r; });
      wake = undefined;
      continue;
    }
    await answer(impl, m.header, m.tensors);
  }
  process.exit(0);
}

/** What the kernel's supports() says of a request: undefined when it takes it, else the reply (declined, or error). */
async function refusal(impl: Implementation, op: ContractOp, geometry: unknown, id: unknown): Promise<Record<string, unknown> | undefined> {
  if (typeof impl.supports !== 'function') return undefined;
  let answer: unknown;
  try {
    answer = await Reflect.apply(impl.supports, impl, [geometry, op]);
  } catch (e) {
    const d = describeThrown(e);
    return { type: 'error', id, error: `supports(): ${d.message}`, stack: d.stack };
  }
  if (answer === true) return undefined;
  if (typeof answer === 'string' && answer !== '') return { type: 'declined', id, reason: answer };
  const plain = answer === null || (typeof answer !== 'object' && typeof answer !== 'function');
  const shown = answer === '' ? 'an empty string' : plain ? String(answer) : `a ${typeof answer}`;
  return { type: 'error', id, error: `supports(): returned ${shown.slice(0, 80)}; it must return true or a non-empty reason string`, stack: [] };
}

async function answer(impl: Implementation, h: Record<string, unknown>, tensors: Frame[]): Promise<void> {
  const id = h.id;
  const op = h.op;
  if (!isContractOp(op) || typeof impl[op] !== 'function') { send({ type: 'error', id, error: `this host does not implement ${JSON.stringify(op)}`, stack: [] }); return; }
  // Asked before a call (protocol 2), and again before every call and timing: a declined computation never runs.
  const refused = await refusal(impl, op, h.geometry, id);
  if (refused || h.type === 'supports') { send(refused ?? { type: 'supported', id }); return; }
  const method = impl[op];
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const args = argumentsOf(op, byName, h.geometry);
  const call = (): Promise<unknown> => Promise.resolve(Reflect.apply(method, impl, args));
  try {
    if (h.type === 'time') {
      const num = (v: unknown, d: number) => (typeof v === 'number' && v >= 0 ? v : d);
      for (let i = 0; i < num(h.warmup, 1); i++) consume(await call());
      const samplesMs: number[] = [];
      let total = 0;
      while ((samplesMs.length < num(h.iterations, 1) || total < num(h.minMs, 0)) && samplesMs.length < MAX_SAMPLES) {
        const t0 = performance.now();
        const r = await call();
        const ms = performance.now() - t0;
        consume(r);
        samplesMs.push(ms);
        total += ms;
      }
      send({ type: 'timed', id, samplesMs });
      return;
    }
    const t0 = performance.now();
    const raw = await call();
    const kernelMs = performance.now() - t0;
    const expected = Array.isArray(h.outputs) ? h.outputs.filter(isRecord) : [];
    const violations: string[] = [];
    const outputs: Frame[] = [];
    const values = named(op, raw);
    for (const e of expected) {
      const name = String(e.name);
      const shape = Array.isArray(e.shape) ? e.shape.map(Number) : [];
      const out = outputOf(values.get(name), name, shape);
      if (typeof out === 'string') { violations.push(out); continue; }
      // An empty output (zero-size batch or channels) holds no bytes to share: nothing can be
      // written through it, so it may be any Float32Array of length 0 (a shared constant, a view).
      const shares = (t: Frame) => out.data.length > 0 && t.data.length > 0 && t.data.buffer === out.data.buffer;
      const aliased = tensors.find(shares);
      if (aliased) violations.push(`${name} shares its buffer with input ${aliased.name}`);
      const twin = outputs.find(shares);
      if (twin) violations.push(`${name} shares one buffer with output ${twin.name}`);
      outputs.push(out);
    }
    send({ type: 'result', id, kernelMs, violations }, [...outputs, ...tensors]);
  } catch (e) {
    const d = describeThrown(e);
    send({ type: 'error', id, error: d.message, stack: d.stack });
  }
}

const spec = process.argv[2] ?? '';
let impl: Implementation;
try {
  impl = await load(spec);
} catch (e) {
  process.stderr.write(`\nconvbench host: ${e instanceof LoadError ? e.message : `cannot load: ${describeThrown(e).message}`}\n`);
  process.exit(3);
}
await serve(impl);
