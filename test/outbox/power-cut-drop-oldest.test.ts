/** Power cut at every flash write and erase of a workload, policy drop-oldest: see power-cut-harness.ts. */
import { powerCutSuite } from './power-cut-harness';

powerCutSuite('drop-oldest', ({ dropped, refused }) => {
  // the ring overflows: the oldest records are dropped, never an append refused
  expect(refused).toBe(0);
  expect(dropped).toBeGreaterThanOrEqual(5);
});
