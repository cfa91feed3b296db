/** A line of a diff: kept, removed from the older version, or added in the newer one. */
export interface DiffLine {
  readonly kind: 'same' | 'removed' | 'added';
  readonly text: string;
}

/** The table a line diff fills grows as the product of the line counts: past this, no diff is drawn. */
export const MAX_DIFF_CELLS = 4_000_000;

/** JSON values are diffed pretty-printed, so a one-line value still shows which field changed. */
export function diffText(value: string): string[] {
  try {
    return JSON.stringify(JSON.parse(value), null, 2).split('\n');
  } catch {
    return value.split('\n');
  }
}

/** A line diff by longest common subsequence; undefined when the values are too large to compare here. */
export function lineDiff(older: readonly string[], newer: readonly string[]): DiffLine[] | undefined {
  const n = older.length;
  const m = newer.length;
  if ((n + 1) * (m + 1) > MAX_DIFF_CELLS) return undefined;
  const common = new Uint32Array((n + 1) * (m + 1));
  const at = (i: number, j: number) => i * (m + 1) + j;
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      common[at(i, j)] =
        older[i] === newer[j]
          ? (common[at(i + 1, j + 1)] ?? 0) + 1
          : Math.max(common[at(i + 1, j)] ?? 0, common[at(i, j + 1)] ?? 0);
    }
  }
  const lines: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && older[i] === newer[j]) {
      lines.push({ kind: 'same', text: older[i] ?? '' });
      i += 1;
      j += 1;
      // Where either keeps as much in common, the removed line goes first, as diff(1) prints them.
    } else if (j < m && (i === n || (common[at(i, j + 1)] ?? 0) > (common[at(i + 1, j)] ?? 0))) {
      lines.push({ kind: 'added', text: newer[j] ?? '' });
      j += 1;
    } else {
      lines.push({ kind: 'removed', text: older[i] ?? '' });
      i += 1;
    }
  }
  return lines;
}
