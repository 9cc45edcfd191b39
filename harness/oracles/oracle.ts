// What every engine adapter (TF.js backends, ONNX Runtime) provides. Outputs are canonical NCHW / OIHW.
import type { Case } from '../cases/load.ts';
import type { Computation, Prepared } from '../invoke.ts';

export interface Oracle {
  /** Row name in reports, e.g. 'tfjs-wasm', 'ort'. */
  name: string;
  /** Engine and package versions, e.g. { '@tensorflow/tfjs-core': '4.22.0', backend: 'wasm' }. */
  versions: Record<string, string>;
  /** Threads the engine computes with, as configured or as it reports. */
  threads: number;
  /**
   * Why this case's computation is outside the engine's declared support ("n/a for <name>: <reason>"),
   * or undefined when it is supported.
   */
  unsupported(c: Case, computation: Computation): string | undefined;
  /**
   * Builds everything a call needs (engine tensors, sessions) so that `call()` does only the work
   * and the download of its results. Throws when the engine cannot express the case at all; may be
   * used (by the semantics probe) on cases `unsupported` declines for semantic reasons.
   */
  prepare(c: Case, computation: Computation): Promise<Prepared>;
  /** Frees engine memory held for prepared calls. */
  release(): Promise<void>;
}

/** An oracle that could not be loaded on this machine, and why. */
export interface AbsentOracle { name: string; reason: string }
