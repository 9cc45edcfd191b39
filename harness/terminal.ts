// Text for the terminal and CI logs that a case, a module or a report cannot hijack. Case ids,
// engine names, error messages and stack lines come from outside; printed raw they could move the
// cursor, clear the screen or retitle the window (ESC, C1 controls), reorder what a reader sees
// (Unicode bidi overrides), or drive the CI runner: GitHub Actions acts on a line that starts with
// `::` after leading whitespace (and on a legacy `##[` anywhere in it), Azure Pipelines on `##vso[`
// anywhere in a line, and both end a line at a bare `\r`.
//
// safe(value) for every value put into a line; safeLine(line) on every line printed, as a last
// guard for what the values together might make.

/**
 * C0 controls (tab, newlines, ESC, ...), DEL, C1 controls, bidi embeddings/overrides/isolates and
 * marks, zero-width characters and the byte-order mark, line and paragraph separators.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;
/** Same, except the line feed: a printed line may be several lines joined by '\n'. */
const UNSAFE_IN_LINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;
/** CI commands found anywhere in a line: Azure's `##vso[`, GitHub's legacy `##[`. */
const COMMAND_ANYWHERE = /##(?=\[|vso\[)/g;
/** A line CI reads as a command: `::` (GitHub) or `##` (Azure, GitHub legacy) after leading whitespace. */
const COMMAND_START = /^\s*(::|##)/;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function visible(c: string): string {
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * One value, safe inside a printed line: controls, bidi controls and line breaks shown as visible
 * escapes (`\x1b`, `\u202e`, `\n`), so the value stays on one line and does what it says; CI
 * commands that work anywhere in a line are broken with a backslash (`#\#vso[`).
 * A backslash already in the value is left as it is (paths stay readable).
 */
export function safe(text: string): string {
  return text.replace(UNSAFE, visible).replace(COMMAND_ANYWHERE, '#\\#');
}

/**
 * A line about to be printed (or several joined by '\n', each checked): any control character
 * left shown as an escape, CI commands anywhere broken, and a line that would start a CI command
 * (`::`, `##`, also after whitespace) prefixed with a backslash.
 */
export function safeLine(line: string): string {
  return line.replace(UNSAFE_IN_LINE, visible).replace(COMMAND_ANYWHERE, '#\\#').split('\n')
    .map((l) => (COMMAND_START.test(l) ? `\\${l}` : l)).join('\n');
}
