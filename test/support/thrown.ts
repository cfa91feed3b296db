/** What `action` throws, checked to be of `type`: for assertions on an error's fields, not only its message. */
export function thrownBy<E extends Error>(
  action: () => unknown,
  type: abstract new (...args: never[]) => E,
): E {
  try {
    action();
  } catch (error) {
    if (error instanceof type) return error;
    throw error;
  }
  throw new Error(`expected a ${type.name}`);
}
