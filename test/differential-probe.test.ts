// Kernel overlayfs as the oracle, with strata probing every lower layer on disk (`--no-index`).
import { differential } from './helpers/differential.js';

differential('no-index');
