// Bounds on what one case file may make the loader read and allocate, and the wording of errors
// about them (each names its bound and the flag that raises it).

/**
 * Bounds on what one case file may make the loader read and allocate: case files are untrusted
 * input. Every bound is on by default and raised by its flag (CASE_LIMIT_FLAGS).
 */
export interface CaseLimits {
  /** Bytes of one case file; also the most values its YAML aliases and matrices may expand it to. */
  maxFileBytes: number;
  /** YAML alias expansions in one file (the yaml package's maxAliasCount): stops alias bombs. */
  maxAliases: number;
  /** Elements of one tensor: an input, dy, an expected tensor, or an output the geometry implies. */
  maxElementsPerTensor: number;
  /** float32 bytes of one case: its inputs, dy and expected tensors and the outputs a run makes. */
  maxBytesPerCase: number;
  /** Cases one matrix may expand into, counted before expanding. */
  maxMatrixCases: number;
  /** float32 bytes of all cases one load keeps (every case is held in memory at once). */
  maxTotalBytes: number;
}

const Mi = 1024 * 1024;

/**
 * The bundled corpus (cases/) peaks at 3.5 KB per file, no aliases, 802,816 elements per tensor
 * (bench resnet maxpool's x, bench pointwise 1x1's y: cases/bench/networks.yaml), 7.8 MiB per case
 * (bench pointwise 1x1), 16 cases per matrix and 33 MiB in all: each default is 20 times that or
 * more (aliases: the yaml package's own default). The file bound is 1 MiB, not more, because the
 * yaml package parses about 180 KB/s of literal values into some 600 bytes of memory per byte:
 * a 1 MiB file of values takes 6 s and 600 MB to parse (4 MiB: 23 s and 2 GB).
 */
export const DEFAULT_CASE_LIMITS: Readonly<CaseLimits> = {
  maxFileBytes: 1 * Mi,
  maxAliases: 100,
  maxElementsPerTensor: 16 * Mi,
  maxBytesPerCase: 256 * Mi,
  maxMatrixCases: 4096,
  maxTotalBytes: 1024 * Mi,
};

/** The command-line flag that raises each bound (named in every error about it). */
export const CASE_LIMIT_FLAGS: Readonly<Record<keyof CaseLimits, string>> = {
  maxFileBytes: '--max-file-bytes',
  maxAliases: '--max-aliases',
  maxElementsPerTensor: '--max-tensor-elements',
  maxBytesPerCase: '--max-case-bytes',
  maxMatrixCases: '--max-matrix-cases',
  maxTotalBytes: '--max-total-bytes',
};

const LIMIT_UNITS: Record<keyof CaseLimits, string> = {
  maxFileBytes: 'bytes per file', maxAliases: 'alias expansions per file', maxElementsPerTensor: 'elements per tensor',
  maxBytesPerCase: 'bytes per case', maxMatrixCases: 'cases per matrix', maxTotalBytes: 'bytes of cases in all',
};

/** The end of an error about a bound: the bound and how to raise it. */
export const beyond = (limits: CaseLimits, key: keyof CaseLimits): string =>
  `, more than the limit of ${limits[key]} ${LIMIT_UNITS[key]} (raise it with ${CASE_LIMIT_FLAGS[key]} <n>)`;

/** The end of an error about a file that expands (through aliases or a matrix) past its size bound. */
export const expandsPast = (limits: CaseLimits): string =>
  `: a file may expand to no more values than its size limit of ${limits.maxFileBytes} bytes (raise it with ${CASE_LIMIT_FLAGS.maxFileBytes} <n>)`;

/** The defaults with the bounds given (an undefined bound keeps its default). */
export function caseLimits(given: Partial<CaseLimits> = {}): CaseLimits {
  const d = DEFAULT_CASE_LIMITS;
  return {
    maxFileBytes: given.maxFileBytes ?? d.maxFileBytes,
    maxAliases: given.maxAliases ?? d.maxAliases,
    maxElementsPerTensor: given.maxElementsPerTensor ?? d.maxElementsPerTensor,
    maxBytesPerCase: given.maxBytesPerCase ?? d.maxBytesPerCase,
    maxMatrixCases: given.maxMatrixCases ?? d.maxMatrixCases,
    maxTotalBytes: given.maxTotalBytes ?? d.maxTotalBytes,
  };
}
