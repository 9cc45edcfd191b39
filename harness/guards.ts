// Type guards for values read from outside (JSON, YAML, a user's module): checked, never cast.

/** A plain object (not null, not an array), with its fields still unknown. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
