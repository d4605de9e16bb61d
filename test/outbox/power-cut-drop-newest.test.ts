/** Power cut at every flash write and erase of a workload, policy drop-newest: see power-cut-harness.ts. */
import { powerCutSuite } from './power-cut-harness';

powerCutSuite('drop-newest');
