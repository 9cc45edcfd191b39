// The published schemas: the committed files are the ones generated from the TypeBox definitions,
// they are standard JSON Schema (ajv, an independent validator, reads them), and reports and case
// files pass them. The harness compiles these files at run time (json.ts, validate.ts) and never
// loads TypeBox itself: only the generator does.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT, SCHEMA_FILES } from '../../scripts/write-schemas.ts';
import { finiteCopy } from '../cases/validate.ts';
import { isRecord } from '../guards.ts';
import { fixtureReport } from './fixture.ts';
import { parseReport, ReportFormatError, serializeReport } from './json.ts';

const committed = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** The message parseReport throws for the fixture with one change made to its JSON form. */
function rejected(change: (o: Record<string, unknown>) => void): string {
  const o: Record<string, unknown> = JSON.parse(serializeReport(fixtureReport()));
  change(o);
  try {
    parseReport(JSON.stringify(o), 'r.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ReportFormatError);
    return e instanceof Error ? e.message : '';
  }
  throw new Error('parseReport accepted it');
}

/** `v` as a JSON object, to change. */
function record(v: unknown): Record<string, unknown> {
  if (!isRecord(v)) throw new Error(`not an object: ${JSON.stringify(v)}`);
  return v;
}

/** The first element of the list field `key` of `o`. */
const first = (o: Record<string, unknown>, key: string) => record(Array.isArray(o[key]) ? o[key][0] : undefined);

describe('published schemas', () => {
  it.each(SCHEMA_FILES.map((f) => [f.path, f.text]))('%s is the one generated from its TypeBox definition', (path, text) => {
    // When this fails: npm run schemas, and commit the file.
    expect(committed(path)).toBe(text);
  });

  it.each(SCHEMA_FILES.map((f) => [f.path]))('%s is valid draft-07 JSON Schema (the harness compiles it unchecked)', (path) => {
    const ajv = new Ajv();
    expect(ajv.validateSchema(JSON.parse(committed(path))), JSON.stringify(ajv.errors)).toBe(true);
  });

  it('the harness imports TypeBox for types only (the build erases those imports)', () => {
    const sources = readdirSync(join(ROOT, 'harness'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !/\.test(-support)?\.ts$/.test(f) && !f.startsWith('fixtures'));
    expect(sources.length).toBeGreaterThan(10);
    const loads = sources.flatMap((f) => {
      const text = committed(join('harness', f));
      const statements = text.match(/^(?:import|export)\b[^;]*?\bfrom\s*'typebox[^']*'|\bimport\(\s*'typebox[^']*'/gm) ?? [];
      return statements.filter((st) => !/^(?:import|export)\s+type\b/.test(st)).map((st) => `${f}: ${st.replace(/\s+/g, ' ')}`);
    });
    expect(loads).toEqual([]);
  });

  it('a serialized report passes schema/report.schema.json in ajv, non-finite numbers included', () => {
    const validate = new Ajv({ allErrors: true }).compile(JSON.parse(committed('schema/report.schema.json')));
    const text = serializeReport(fixtureReport());
    expect(text).toContain('"Infinity"');
    expect(validate(JSON.parse(text)), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...JSON.parse(text), timings: [{ caseId: 'c', state: 'measured' }] })).toBe(false);
  });

  it('every bundled case file passes cases/case.schema.json in ajv', () => {
    const validate = new Ajv({ allErrors: true }).compile(JSON.parse(committed('cases/case.schema.json')));
    const files = readdirSync(join(ROOT, 'cases'), { recursive: true, encoding: 'utf8' }).filter((f) => /\.ya?ml$/.test(f));
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) {
      expect(validate(finiteCopy(parse(committed(join('cases', f))))), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });
});

describe('parseReport checks against the schema', () => {
  it('a valid report round-trips, and so does what a newer writer added', () => {
    const r = fixtureReport();
    expect(parseReport(serializeReport(r), 'r.json')).toEqual(r);
    const o: Record<string, unknown> = JSON.parse(serializeReport(r));
    o.timings = [{ ...first(o, 'timings'), futureField: ['NaN'] }, ...(Array.isArray(o.timings) ? o.timings.slice(1) : [])];
    const back = parseReport(JSON.stringify(o), 'r.json');
    expect(Object.entries(back.timings[0]).find(([k]) => k === 'futureField')?.[1]).toEqual(['NaN']); // kept as written
  });

  it('a wrong field is rejected, naming its path and what was expected', () => {
    expect(rejected((o) => { o.timings = [{ ...first(o, 'timings'), samplesMs: [61.2, true] }]; }))
      .toBe('r.json: timings[0].samplesMs[1]: expected a number, got true');
    expect(rejected((o) => { o.cases = [{ ...first(o, 'cases'), geometry: { ...record(first(o, 'cases').geometry), groups: 1.5 } }]; }))
      .toBe('r.json: cases[0].geometry.groups: expected an integer, got 1.5');
    expect(rejected((o) => { o.results = [{ ...first(o, 'results'), state: 'errored' }]; }))
      .toBe('r.json: results[0].error: expected a string, got missing');
    expect(rejected((o) => { o.timings = [{ ...first(o, 'timings'), state: undefined }]; }))
      .toBe('r.json: timings[0].state: expected one of "measured", "errored", "n/a", got missing');
    expect(rejected((o) => { o.implementations = [{ ...first(o, 'implementations'), layout: 'NWHC' }]; }))
      .toBe('r.json: implementations[0].layout: expected one of "NCHW", "NHWC", got "NWHC"');
    expect(rejected((o) => { o.environment = { ...record(o.environment), settings: { CI: 1 } }; }))
      .toBe('r.json: environment.settings.CI: expected a string, got 1');
  });
});
