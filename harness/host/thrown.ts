// Describing whatever a kernel threw (an Error, a string, Object.create(null), a Proxy whose every
// trap throws, a value with a throwing getter or toString) without throwing again.

const MAX_MESSAGE = 2000;
/** A kernel's own error keeps this many of its first stack frames. */
export const STACK_FRAMES = 8;

function attempt<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

function plain(v: unknown): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string': return v;
    case 'number': case 'boolean': case 'bigint': case 'undefined': return String(v);
    case 'symbol': return attempt(() => v.toString()) ?? 'a symbol';
    case 'function': return `a function ${attempt(() => v.name) || '(anonymous)'}`;
    default: {
      const json = attempt(() => JSON.stringify(v));
      if (typeof json === 'string' && json !== '{}') return json;
      const proto = attempt(() => Object.getPrototypeOf(v));
      return proto === null ? 'an object with no prototype' : `an object ${attempt(() => Object.prototype.toString.call(v)) ?? ''}`.trim();
    }
  }
}

export interface Thrown { message: string; stack: string[] }

export function describeThrown(e: unknown): Thrown {
  const isError = attempt(() => e instanceof Error) === true;
  if (!isError) return { message: `threw ${plain(e).slice(0, MAX_MESSAGE)}`, stack: [] };
  const name = attempt(() => String(Reflect.get(Object(e), 'name'))) ?? 'Error';
  const message = attempt(() => String(Reflect.get(Object(e), 'message'))) ?? '';
  const stack = attempt(() => String(Reflect.get(Object(e), 'stack'))) ?? '';
  const frames = stack.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('at ')).slice(0, STACK_FRAMES);
  return { message: `${name}: ${message}`.slice(0, MAX_MESSAGE), stack: frames };
}
