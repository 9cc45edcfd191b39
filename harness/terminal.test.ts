import { describe, expect, it } from 'vitest';
import { safe, safeLine } from './terminal.ts';

/** Any character a terminal or a CI log would act on. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** A physical line a CI runner would read as a command. */
const CI_COMMAND = /^\s*(::|##)|##vso\[|##\[/m;

describe('safe', () => {
  it('shows control characters as visible escapes', () => {
    expect(safe('a\x1b]0;pwned\x07b')).toBe('a\\x1b]0;pwned\\x07b');
    expect(safe('\x1b[2J')).toBe('\\x1b[2J');
    expect(safe('del\x7f c1\x9b nul\0')).toBe('del\\x7f c1\\x9b nul\\x00');
    expect(safe('tab\there')).toBe('tab\\there');
  });

  it('keeps a value on one line', () => {
    expect(safe('Error: boom\n    at f (x.ts:1:2)\r\n')).toBe('Error: boom\\n    at f (x.ts:1:2)\\r\\n');
    expect(safe('a\u2028b\u2029c')).toBe('a\\u2028b\\u2029c');
  });

  it('shows bidi overrides and isolates', () => {
    expect(safe('abc\u202edcba\u202c')).toBe('abc\\u202edcba\\u202c');
    for (const c of ['\u202a', '\u202b', '\u202d', '\u2066', '\u2067', '\u2068', '\u2069']) expect(safe(c)).toMatch(/^\\u20/);
  });

  it('breaks CI commands that work anywhere in a line', () => {
    expect(safe('x ##vso[task.setvariable variable=x]1')).toBe('x #\\#vso[task.setvariable variable=x]1');
    expect(safe('###[set-env name=x]1')).not.toMatch(/##vso\[|##\[/);
  });

  it('leaves ordinary text, backslashes and non-ASCII alone', () => {
    const text = 'resnet50 conv2d x=[1,64,56,56] C:\\cases\\a.yaml ✅ 95% … µs';
    expect(safe(text)).toBe(text);
  });
});

describe('safeLine', () => {
  it('prefixes a line that would start a CI command, also after whitespace', () => {
    expect(safeLine('::error file=x::pwned')).toBe('\\::error file=x::pwned');
    expect(safeLine('  ::warning::x')).toBe('\\  ::warning::x');
    expect(safeLine('## heading')).toBe('\\## heading');
    expect(safeLine('\u00a0::error::x')).not.toMatch(CI_COMMAND);
    expect(safeLine('a :: b')).toBe('a :: b');
  });

  it('checks each of several lines joined by line feeds, and keeps the line feeds', () => {
    expect(safeLine('\nfailures:\n::error::x')).toBe('\nfailures:\n\\::error::x');
  });

  it('escapes control characters left in the line, a bare carriage return included', () => {
    const out = safeLine('ok\r::error::x\x1b[2J');
    expect(out).not.toMatch(RAW_CONTROL);
    expect(out).not.toMatch(CI_COMMAND);
  });

  it('is a no-op on what safe() made', () => {
    const value = safe('\x1b]0;pwned\x07 ##vso[x]1 \u202e\n::error::y');
    expect(safeLine(`case ${value}`)).toBe(`case ${value}`);
  });
});
