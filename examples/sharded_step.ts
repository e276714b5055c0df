/**
 * One program written for one device, a few sharding annotations, and GSPMD does the rest:
 * a linear-regression SGD step, batch over 'data' and features over 'model' on a 2x4 mesh.
 * Prints core 0's partitioned program and checks the 8-core result against one device.
 *
 *   npm run build && node dist/examples/sharded_step.js
 */
import * as jnp from '../src/program/numpy.js';
import { grad } from '../src/program/autodiff/api.js';
import { Tensor } from '../src/program/tracer.js';
import { jit } from '../src/gspmd/api.js';
import { Mesh } from '../src/gspmd/mesh.js';
import { P } from '../src/gspmd/sharding.js';
import { tensorFrom, toNumbers } from '../src/tpu/tensor.js';
import { mulberry32 } from '../src/tpu/host_rng.js';

const loss = (w: Tensor, x: Tensor, y: Tensor): Tensor => jnp.mean(jnp.square(jnp.subtract(jnp.matmul(x, w), y)));
const step = (w: Tensor, x: Tensor, y: Tensor): Tensor => jnp.subtract(w, jnp.multiply(grad(loss)(w, x, y), 0.1));

const rand = mulberry32(0);
const randn = (shape: number[]): Tensor =>
  Tensor.concrete(tensorFrom('f32', shape, Array.from({ length: shape.reduce((a, b) => a * b) }, () => rand() - 0.5)));
const [w, x, y] = [randn([16, 4]), randn([32, 16]), randn([32, 4])];

const mesh = new Mesh([[0, 1, 2, 3], [4, 5, 6, 7]], ['data', 'model']);
const compiled = jit(step, { mesh, inShardings: [P('model', null), P('data', 'model'), P('data', null)] }).compile(w, x, y);
console.log(compiled.dump(0));

const [sharded] = compiled.run([w, x, y]);
const single = step(w, x, y).toNumbers();
const maxError = Math.max(...toNumbers(sharded!).map((v, i) => Math.abs(v - single[i]!)));
console.log(`\n8 cores vs one device: max |difference| = ${maxError.toExponential(2)}`);
