// The random operation sequences on the kernel transport, with its default cache lifetimes.
import { randomSuite } from './helpers/random.js';

randomSuite('kernel');
