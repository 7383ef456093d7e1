// Kernel overlayfs as the oracle, with strata answering lower layers from the LMDB path index (the default).
import { differential } from './helpers/differential.js';

differential('index');
