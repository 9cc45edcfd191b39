// The harness's side of a kernel host: starts the process, speaks the protocol, and turns every
// way a host can misbehave into a named failure: a call past its time limit, a crash, an exit, a
// resident size past the memory cap, bytes that are not the protocol. A failed host is killed
// with its whole process group (what a kernel started dies with it); the next request starts a
// new one.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, fstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ownLoaderFlags, ownModule } from '../paths.ts';
import { encode, type Frame, type Hello, MessageReader, NODE_PROTOCOL_FD, parseHello, parseReply, ProtocolError, type Reply } from './protocol.ts';
import { describeThrown } from './thrown.ts';
import { deadline, forget, type Verdict, watch } from './watchdog.ts';

export interface HostLimits {
  /** Per call; a case may set its own (timeLimitSeconds). */
  callTimeLimitMs: number;
  /** Resident memory of the host's process group, bytes. */
  memoryCapBytes: number;
  /** From spawn to the handshake. */
  startupMs: number;
}

export const GIB = 2 ** 30;
export const DEFAULT_LIMITS: HostLimits = { callTimeLimitMs: 60_000, memoryCapBytes: 4 * GIB, startupMs: 30_000 };
/** What a caller may set, from the CLI's flags or the API: a call's limit at most a day; a cap from 256 MiB (a Node host needs about 100 MiB to start) to 1 TiB (past it, no cap). */
export const LIMIT_RANGE = { maxTimeLimitSeconds: 86_400, minMemoryCapBytes: 2 ** 28, maxMemoryCapBytes: 2 ** 40 } as const;

/** How to start a host: our Node host on a module (built-in or a path), or any program. */
export type HostCommand = { kind: 'node'; module: string } | { kind: 'program'; argv: string[]; cwd?: string };

export type FailureState = 'timed out' | 'crashed' | 'exited' | 'out of memory' | 'protocol error' | 'failed to start';

/** A host that failed a request: `message` is what every report shows. */
export class HostFailure extends Error {
  constructor(readonly state: FailureState, message: string) {
    super(message);
    this.name = 'HostFailure';
  }
}

const NODE_HOST = ownModule('harness/host/node-host');
const STDERR_TAIL = 4096;

export const formatBytes = (b: number): string => (b >= GIB && b % (GIB / 4) === 0 ? `${b / GIB} GiB` : `${Math.round(b / 2 ** 20)} MiB`);
export const formatSeconds = (ms: number): string => `${Number((ms / 1000).toFixed(ms < 10_000 ? 1 : 0))} s`;

function argvOf(command: HostCommand, limits: HostLimits): { file: string; args: string[]; cwd?: string } {
  if (command.kind === 'program') return { file: command.argv[0], args: command.argv.slice(1), ...(command.cwd ? { cwd: command.cwd } : {}) };
  const heapMiB = Math.max(64, Math.floor(limits.memoryCapBytes / 2 ** 20));
  return { file: process.execPath, args: [`--max-old-space-size=${heapMiB}`, ...ownLoaderFlags(), NODE_HOST, command.module] };
}

/** Every live host, so a signal to the harness can end them all. */
const live = new Set<KernelHost>();
export function killAllHosts(): void {
  for (const h of live) h.kill();
}

/** One folder per harness process for the hosts' stderr logs (files, not pipes: a chatty kernel never blocks). */
let logDir: string | undefined;
function logFile(): string {
  logDir ??= mkdtempSync(join(tmpdir(), 'convbench-hosts-'));
  return join(logDir, `host-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
}
process.on('exit', () => {
  killAllHosts();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

/** The last bytes of a log file. */
function tailOf(path: string): string {
  try {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const buf = Buffer.alloc(Math.min(size, STDERR_TAIL));
      readSync(fd, buf, 0, buf.length, size - buf.length);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

interface Waiter { id: number; resolve(r: Reply): void; reject(e: HostFailure): void; maxElements: number }

export class KernelHost {
  private child: ChildProcess | undefined;
  private reader: MessageReader | undefined;
  private waiter: Waiter | undefined;
  private helloWaiter: { resolve(h: Hello): void; reject(e: HostFailure): void } | undefined;
  private log = '';
  private exited: Promise<void> = Promise.resolve();
  /** Set as soon as the process is gone, before its failure is decided. */
  private gone = true;
  private nextId = 1;
  /** The time limit of the request in flight (or of the startup), for the message, and its deadline's number. */
  private limitMs = 0;
  private deadlineSeq = 0;
  /** How many times this host has been started. */
  starts = 0;

  constructor(readonly command: HostCommand, readonly limits: HostLimits, readonly label: string) {}

  /** Starts the process (in a process group of its own) and waits for its handshake. */
  async start(): Promise<Hello> {
    this.kill();
    this.starts++;
    const { file, args, cwd } = argvOf(this.command, this.limits);
    this.log = logFile();
    const logFd = openSync(this.log, 'a');
    const node = this.command.kind === 'node';
    const stdio: ('pipe' | number)[] = node ? ['pipe', logFd, logFd, 'pipe'] : ['pipe', 'pipe', logFd];
    let child: ChildProcess;
    try {
      child = spawn(file, args, { stdio, detached: true, ...(cwd ? { cwd } : {}), env: process.env });
    } finally {
      closeSync(logFd);
    }
    this.child = child;
    this.gone = false;
    this.exited = new Promise<void>((r) => child.once('exit', () => r()));
    this.reader = new MessageReader(() => this.waiter?.maxElements ?? 0);
    live.add(this);
    const out = child.stdio[node ? NODE_PROTOCOL_FD : 1];
    child.stdin?.on('error', () => { /* a dead host's pipe: its exit is reported instead */ });
    if (out instanceof Readable) out.on('data', (b: Buffer) => this.onData(child, b));
    child.on('error', (e) => this.fail(child, new HostFailure('failed to start', `cannot start ${file}: ${e.message}`)));
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    if (child.pid !== undefined) {
      watch(child.pid, this.limits.memoryCapBytes, (v, seq) => this.onWatchdog(child, v, seq));
      this.limitMs = this.limits.startupMs;
      this.deadlineSeq = deadline(child.pid, this.limits.startupMs);
    }
    return new Promise<Hello>((resolve, reject) => {
      this.helloWaiter = {
        resolve: (h) => { if (child.pid !== undefined) this.deadlineSeq = deadline(child.pid, undefined); resolve(h); },
        reject,
      };
    });
  }

  /** False once the process is gone (or was never started): the next request restarts it. */
  get alive(): boolean {
    return this.child !== undefined && !this.gone;
  }

  /** Sends one request and waits for its reply; a HostFailure (and a dead host) otherwise. */
  async request(header: Record<string, unknown>, tensors: readonly Frame[], replyElements: number, timeLimitMs: number): Promise<Reply> {
    const child = this.child;
    if (!child || this.gone || this.waiter) throw new HostFailure('protocol error', this.waiter ? 'a request while another is in flight' : 'the host is not running');
    const id = this.nextId++;
    const pid = child.pid ?? 0;
    this.limitMs = timeLimitMs;
    this.deadlineSeq = deadline(pid, timeLimitMs);
    return new Promise<Reply>((resolve, reject) => {
      this.waiter = {
        id, maxElements: replyElements,
        resolve: (r) => { this.deadlineSeq = deadline(pid, undefined); this.waiter = undefined; resolve(r); },
        reject: (e) => { this.waiter = undefined; reject(e); },
      };
      for (const b of encode({ ...header, id }, tensors)) child.stdin?.write(b);
    });
  }

  /** Closes stdin (a well-behaved host exits), then kills it if it has not after `graceMs`. */
  async close(graceMs = 1000): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (!this.gone) {
      child.stdin?.end();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.exited, new Promise<void>((r) => { timer = setTimeout(r, graceMs); })]);
      clearTimeout(timer);
    }
    this.kill();
  }

  /** Kills the host's whole process group; a request still waiting fails. */
  kill(): void {
    const child = this.child;
    if (!child) return;
    const waiting = [this.helloWaiter, this.waiter];
    this.helloWaiter = undefined;
    this.waiter = undefined;
    for (const w of waiting) w?.reject(new HostFailure('crashed', 'the host was stopped by the harness'));
    if (child.pid !== undefined) forget(child.pid);
    this.child = undefined;
    this.reader = undefined;
    this.gone = true;
    live.delete(this);
    for (const target of child.pid !== undefined ? [-child.pid, child.pid] : []) {
      try { process.kill(target, 'SIGKILL'); } catch { /* already gone */ }
    }
    if (this.log) rmSync(this.log, { force: true });
  }

  private onData(child: ChildProcess, b: Buffer): void {
    if (child !== this.child || !this.reader) return;
    this.reader.push(b);
    try {
      for (let m = this.reader.next(); m; m = this.reader?.next()) {
        if (this.helloWaiter) {
          const hello = parseHello(m.header);
          const w = this.helloWaiter;
          this.helloWaiter = undefined;
          w.resolve(hello);
        } else if (this.waiter) {
          this.waiter.resolve(parseReply(m.header, m.tensors, this.waiter.id));
        } else {
          throw new ProtocolError(m.header.protocol !== undefined ? 'a second handshake' : 'a message while no request was waiting');
        }
        if (child !== this.child) return;
      }
    } catch (e) {
      const when = this.helloWaiter ? ' before its handshake' : '';
      this.fail(child, new HostFailure('protocol error', `protocol error${when}: ${describeThrown(e).message.replace(/^(ProtocolError|Error): /, '')}`));
    }
  }

  /** The watchdog's word: past the memory cap or the hard deadline (killed), or the deadline (check first). */
  private onWatchdog(child: ChildProcess, v: Verdict, seq: number): void {
    // A verdict about a deadline that has since been met or replaced is stale (except the memory cap's).
    if (v !== 'memory' && seq !== this.deadlineSeq) return;
    const starting = this.helloWaiter !== undefined;
    const timedOut = new HostFailure('timed out', starting ? `no handshake within ${formatSeconds(this.limitMs)}` : `timed out after ${formatSeconds(this.limitMs)}`);
    if (v === 'memory') { this.fail(child, new HostFailure('out of memory', `out of memory (cap ${formatBytes(this.limits.memoryCapBytes)})`)); return; }
    if (v === 'time') { this.fail(child, timedOut); return; }
    // The deadline passed, but this thread may have been busy: a reply already in the pipe is read first.
    setTimeout(() => {
      if (child === this.child && seq === this.deadlineSeq) this.fail(child, timedOut);
    }, 20);
  }

  /** Why the host ended, from its exit and its last words. */
  private exitFailure(code: number | null, signal: NodeJS.Signals | null): HostFailure {
    const tail = tailOf(this.log);
    // What the log says counts only for a host that died abnormally (a kernel may print anything).
    if ((signal !== null || code === 134) && /heap out of memory|allocation failed|Reached heap limit/i.test(tail)) {
      return new HostFailure('out of memory', `out of memory (cap ${formatBytes(this.limits.memoryCapBytes)})`);
    }
    const last = tail.split('\n').map((l) => l.trim()).filter((l) => l && !/^Node\.js v\d/.test(l) && l !== '^').slice(-3).join(' | ').slice(-600);
    const words = last ? `; its stderr ended: ${last}` : '';
    const during = this.helloWaiter ? 'before its handshake' : 'during the call';
    return signal
      ? new HostFailure('crashed', `crashed: signal ${signal}${this.helloWaiter ? ' before its handshake' : ''}${words}`)
      : new HostFailure('exited', `exited with code ${code ?? '?'} ${during}${words}`);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    // Killed by us: the reason was recorded when we killed it.
    if (child !== this.child) return;
    // Gone now (the next request restarts it), but let a reply written just before exiting arrive first.
    this.gone = true;
    const failure = this.exitFailure(code, signal);
    setTimeout(() => this.fail(child, failure), 100);
  }

  /** Kills the host, and fails whoever was waiting. */
  private fail(child: ChildProcess, failure: HostFailure): void {
    if (child !== this.child) return;
    const hello = this.helloWaiter;
    const waiter = this.waiter;
    this.helloWaiter = undefined;
    this.waiter = undefined;
    this.kill();
    hello?.reject(failure);
    waiter?.reject(failure);
  }
}
