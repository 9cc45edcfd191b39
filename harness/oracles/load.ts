// Finding the oracles present on this machine; an engine that cannot load is reported, not fatal.
import type { AbsentOracle, Oracle } from './oracle.ts';
import { loadOrtOracle } from './ort.ts';
import { loadTfjsOracles } from './tfjs.ts';

export interface OracleSet { oracles: Oracle[]; absent: AbsentOracle[] }

export async function loadOracles(options: { ortThreads?: number } = {}): Promise<OracleSet> {
  const found: OracleSet[] = [await loadTfjsOracles(), await loadOrtOracle({ threads: options.ortThreads })];
  return { oracles: found.flatMap((f) => f.oracles), absent: found.flatMap((f) => f.absent) };
}
