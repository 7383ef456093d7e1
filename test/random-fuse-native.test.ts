// The random operation sequences on the fuse-native transport (libfuse 2).
import { randomSuite } from './helpers/random.js';

randomSuite('fuse-native');
