/**
 * Holds an instance's Refresh in flight for as long as a test needs (a worker to kill mid-push, say):
 * give `health` as the instance's health hook, which the SDK runs inside every Refresh.
 */
export function pushGate() {
  let holding = false;
  let open = () => {};
  const held = new Promise<void>((resolve) => (open = resolve));
  let pushArrived = () => {};
  const arrived = new Promise<void>((resolve) => (pushArrived = resolve));
  return {
    health: async () => {
      if (holding) {
        pushArrived();
        await held;
      }
      return true;
    },
    /** From now on a Refresh waits until `release`. */
    hold: () => {
      holding = true;
    },
    /** Resolves once a held Refresh has arrived. */
    arrived,
    release: () => {
      holding = false;
      open();
    },
  };
}
