import { CLOCK_SKEW_SECONDS, PUSH_GRANT_TTL_SECONDS } from '../../common/pushGrant';
import { REVERT_RETRY_WINDOW_MS } from '../../common/rollout';

test('a rollback retries unconfirmed reverts for as long as a candidate push already sent can still be applied', () => {
  expect(REVERT_RETRY_WINDOW_MS).toBeGreaterThan((PUSH_GRANT_TTL_SECONDS + CLOCK_SKEW_SECONDS) * 1000);
});
