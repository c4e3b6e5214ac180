export { Rng } from './random';
