// The built-in implementations under test, and loading a user's module (--impl <path>).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import im2col from '../implementations/im2col/index.ts';
import naive from '../implementations/naive/index.ts';
import views from '../implementations/views/index.ts';
import { isRecord } from './guards.ts';
import { type Implementation, implementationProblem, isImplementation } from './implementation.ts';

export const BUILT_IN: readonly Implementation[] = [naive, im2col, views];

export class ImplementationLoadError extends Error {}

/** Imports a .ts / .js module whose default export satisfies the Implementation contract. */
export async function loadImplementation(path: string): Promise<Implementation> {
  let mod: unknown;
  try {
    mod = await import(pathToFileURL(resolve(path)).href);
  } catch (e) {
    throw new ImplementationLoadError(`${path}: cannot import: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
  }
  const value = isRecord(mod) ? mod.default : undefined;
  if (!isImplementation(value)) throw new ImplementationLoadError(`${path}: not an implementation: ${implementationProblem(value)}`);
  return value;
}
