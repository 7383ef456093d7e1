// Kernel overlayfs as the oracle: the fuse-native transport, lower layers probed on disk.
import { differential } from './helpers/differential.js';

differential('no-index', 'fuse-native');
