// Kernel overlayfs as the oracle: the fuse-native transport, lower layers from the path index.
import { differential } from './helpers/differential.js';

differential('index', 'fuse-native');
