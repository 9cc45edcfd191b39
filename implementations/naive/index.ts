import type { Implementation } from '../../harness/implementation.ts';
import { conv2d, conv2dBackward } from './conv2d.ts';
import { avgPool2d, avgPool2dBackward } from './avgpool2d.ts';
import { maxPool2d, maxPool2dBackward, maxPool2dWithIndices } from './maxpool2d.ts';

export default {
  name: 'naive',
  layout: 'NCHW',
  conv2d, conv2dBackward, maxPool2d, maxPool2dBackward, maxPool2dWithIndices, avgPool2d, avgPool2dBackward,
} satisfies Implementation;
