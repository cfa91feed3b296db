/**
 * Schemas and values that cost a schema thread far more than any budget, for tests that show the cost
 * lands on that thread and ends at the budget rather than on a shared event loop.
 */

/** An array of small distinct arrays: Ajv's own `uniqueItems` compared its items pair by pair. */
export function distinctArrays(count: number): string {
  return `[${Array.from({ length: count }, (_, i) => `[${i}]`).join(',')}]`;
}

/**
 * `allOf` multiplied through references: each level checks the level below ten times, so the value is
 * checked against `uniqueItems` 10^levels times by a schema of under 2 KB. Compiling it is cheap (each
 * definition compiles once); checking any sizeable array with it never ends.
 */
export function multipliedUniqueItems(levels = 8): object {
  const $defs: Record<string, object> = { level0: { uniqueItems: true } };
  for (let level = 1; level <= levels; level++) {
    $defs[`level${level}`] = {
      allOf: Array.from({ length: 10 }, () => ({ $ref: `#/$defs/level${level - 1}` })),
    };
  }
  return { $defs, $ref: `#/$defs/level${levels}` };
}

/**
 * A schema nested `depth` levels deep, as JSON text: JSON.stringify and Ajv overflowed their stacks on
 * 8,000 (so the text is built without them; JSON.parse reads it without recursing).
 */
export function nestedSchemaJson(depth: number): string {
  return `${'{"not":'.repeat(depth - 1)}{"type":"object"}${'}'.repeat(depth - 1)}`;
}
