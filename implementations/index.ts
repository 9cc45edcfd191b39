// The built-in implementations as modules, for code that calls them directly (their own tests,
// scripts). The harness never does: it runs each in a kernel host (harness/implementations.ts).
import type { Implementation } from '../harness/implementation.ts';
import fast from './fast/index.ts';
import im2col from './im2col/index.ts';
import naive from './naive/index.ts';
import views from './views/index.ts';

export const BUILT_IN: readonly Implementation[] = [naive, im2col, views, fast];
