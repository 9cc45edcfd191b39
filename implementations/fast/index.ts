// fast: the quickest conv and pooling this project can write in TypeScript (issue 11).
import type { Implementation } from '../../harness/implementation.ts';
import { avgPool2d, avgPool2dBackward } from './avgpool2d.ts';
import { conv2d, conv2dBackward, THREADS } from './conv2d.ts';
import { maxPool2d, maxPool2dBackward } from './maxpool2d.ts';

export default {
  name: 'fast',
  layout: 'NCHW',
  threads: THREADS,
  conv2d, conv2dBackward, maxPool2d, maxPool2dBackward, avgPool2d, avgPool2dBackward,
} satisfies Implementation;
