import { buildPolicy } from './dist/src/sandbox/build.js';
import * as g from './dist/src/sandbox/glob.js';
let t = performance.now();
const p = buildPolicy([]);
console.log('build', (performance.now() - t).toFixed(1), Object.keys(g));
