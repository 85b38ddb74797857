/** Data: seeded generators and MNIST as flat typed arrays (no tfjs), plus batching helpers. */
export { Rng, hashLabel } from './rng.js';
export {
  batchIndices,
  gatherRows,
  labels,
  type Dataset,
  type Split,
  type TaskKind,
} from './dataset.js';
export { loadMnist, mnistClassCounts, MNIST_SPLIT_SEED, MNIST_INPUT_DIM, MNIST_CLASSES, type MnistOptions } from './mnist.js';
export { teacherStudent, randomTanhTeacher, type TeacherStudentOptions, type TanhTeacher } from './teacher.js';
export { mixtureOfRegimes, type MixtureOfRegimesOptions } from './regimes.js';
