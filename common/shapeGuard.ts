import type { ShapeGuardSetting } from './api/plans';
import { ShapeChangeRefusedError } from './errors';

/**
 * The shape guard: a candidate value whose size, or whose number of top-level keys (a JSON object) or
 * items (a JSON array), differs from the live value's by more than a factor, either way, is refused
 * unless the release manager confirms it. A generated file that doubled in size took Cloudflare's
 * proxies down on 2025-11-18; a truncated one empties a flag set just as surely. Pure: the API, the
 * rollout's prepare activity and the tests share it.
 */

/** `plan.shapeGuard`: the largest factor a measure may change by, or `off` (common/api/plans.ts). */
export type { ShapeGuardSetting };

/** Below 2, so a doubling (Cloudflare's) is caught; above 1 by enough that ordinary edits pass. */
export const DEFAULT_SHAPE_MAX_FACTOR = 1.5;
export const MAX_SHAPE_FACTOR_LIMIT = 1000;
/**
 * Measures under which a change is not judged, on the larger of the two values: a flag going from "1"
 * to "10", or a flag set from 3 to 7 keys, is no outage, and factors of small numbers swing wildly.
 */
export const SHAPE_BYTES_FLOOR = 1024;
export const SHAPE_COUNT_FLOOR = 16;

export type ShapeMeasure = 'bytes' | 'top-level keys' | 'array items';

/** One measure that changed by more than the factor. */
export interface ShapeChange {
  readonly measure: ShapeMeasure;
  readonly live: number;
  readonly candidate: number;
}

/** The factor a plan allows; undefined when its guard is off. */
export function shapeFactorOf(setting: ShapeGuardSetting | undefined): number | undefined {
  if (setting === 'off') return undefined;
  return setting?.maxFactor ?? DEFAULT_SHAPE_MAX_FACTOR;
}

/** The plan's `shapeGuard` field's problem, naming it; undefined when it is valid or absent. */
export function shapeGuardProblem(setting: unknown): string | undefined {
  if (setting === undefined || setting === 'off') return undefined;
  if (typeof setting === 'object' && setting !== null && Object.keys(setting).length === 1) {
    const { maxFactor } = setting as { maxFactor?: unknown };
    if (typeof maxFactor === 'number' && maxFactor > 1 && maxFactor <= MAX_SHAPE_FACTOR_LIMIT)
      return undefined;
  }
  return `plan.shapeGuard: "off", or { maxFactor } with maxFactor a number above 1 and at most ${MAX_SHAPE_FACTOR_LIMIT}`;
}

/**
 * The measures of `candidate` that changed against `live` by more than `maxFactor`, either way. Bytes
 * are UTF-8; keys and items are counted when both values are JSON objects, or both arrays. A measure is
 * judged only when the larger of its two values reaches its floor.
 */
export function shapeChanges(live: string, candidate: string, maxFactor: number): ShapeChange[] {
  const before = measure(live);
  const after = measure(candidate);
  const changes: ShapeChange[] = [];
  const judge = (name: ShapeMeasure, from: number, to: number, floor: number) => {
    if (Math.max(from, to) < floor) return;
    if (Math.max(from, to) > maxFactor * Math.min(from, to))
      changes.push({ measure: name, live: from, candidate: to });
  };
  judge('bytes', before.bytes, after.bytes, SHAPE_BYTES_FLOOR);
  if (before.keys !== undefined && after.keys !== undefined)
    judge('top-level keys', before.keys, after.keys, SHAPE_COUNT_FLOOR);
  if (before.items !== undefined && after.items !== undefined)
    judge('array items', before.items, after.items, SHAPE_COUNT_FLOOR);
  return changes;
}

/**
 * Refuses a candidate whose shape changed past the plan's factor against the live value, unless
 * confirmed. Nothing live (a new key, a removed one) is nothing to compare with: schemas guard those.
 */
export function assertShapeWithin(input: {
  readonly live?: { readonly version: number; readonly value: string };
  readonly candidate: string;
  readonly setting: ShapeGuardSetting | undefined;
  readonly confirmed: boolean;
}): void {
  const maxFactor = shapeFactorOf(input.setting);
  if (input.confirmed || maxFactor === undefined || !input.live) return;
  const changes = shapeChanges(input.live.value, input.candidate, maxFactor);
  if (changes.length > 0)
    throw new ShapeChangeRefusedError(input.live.version, maxFactor, changes.map(describeShapeChange));
}

/** `bytes 1204 → 2410 (2.00x)`: what the error and the outcome name. */
export function describeShapeChange(change: ShapeChange): string {
  const { live, candidate } = change;
  const ratio =
    Math.min(live, candidate) === 0
      ? '∞'
      : (Math.max(live, candidate) / Math.min(live, candidate)).toFixed(2);
  return `${change.measure} ${live} → ${candidate} (${candidate >= live ? '' : '1/'}${ratio}x)`;
}

function measure(value: string): { bytes: number; keys?: number; items?: number } {
  const bytes = new TextEncoder().encode(value).length;
  const first = value.trimStart()[0];
  if (first !== '{' && first !== '[') return { bytes };
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed)) return { bytes, items: parsed.length };
    if (parsed !== null && typeof parsed === 'object') return { bytes, keys: Object.keys(parsed).length };
  } catch {
    // Text that merely starts like JSON is measured in bytes alone.
  }
  return { bytes };
}
