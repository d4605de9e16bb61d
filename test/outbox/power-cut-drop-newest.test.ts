/** Power cut at every flash write and erase of a workload, policy drop-newest: see power-cut-harness.ts. */
import { powerCutSuite } from './power-cut-harness';

powerCutSuite('drop-newest', ({ dropped, refused }) => {
  // the ring overflows: new appends are refused, never an old record dropped
  expect(dropped).toBe(0);
  expect(refused).toBeGreaterThanOrEqual(5);
});
