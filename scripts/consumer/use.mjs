// convbench imported from a plain .mjs: runConformance returns the report object.
import { conv2dGeometry, runConformance } from 'convbench';

const g = conv2dGeometry([1, 3, 7, 7], [2, 3, 3, 3], { strides: [2, 2] });
if (g.outHeight !== 3 || g.outWidth !== 3) throw new Error(`conv2dGeometry: ${g.outHeight}x${g.outWidth}, want 3x3`);
const report = await runConformance({ implementations: ['./maxpool.mjs'], ops: ['maxpool2d'], oracles: ['ort'] });
// The kernel has maxPool2d and maxPool2dBackward, not maxPool2dWithIndices: its indices are skipped.
const mine = report.results.filter((r) => r.subject === 'mine' && r.computation !== 'indices');
const indices = report.results.filter((r) => r.subject === 'mine' && r.computation === 'indices');
if (indices.length === 0 || indices.some((r) => r.state !== 'skipped')) throw new Error('runConformance: the indices computation should be skipped for a kernel without it');
const passed = mine.filter((r) => r.state === 'passed').length;
const ort = report.results.filter((r) => r.subject === 'ort' && r.state === 'passed').length;
console.log(`runConformance: ${passed} of ${mine.length} results passed; ort agreed on ${ort}`);
if (passed === 0 || passed !== mine.length) throw new Error('runConformance: the kernel should pass every result');
if (ort === 0) throw new Error('runConformance: ONNX Runtime did not run');
