import { MAX_CHANGE_WINDOWS, MAX_FREEZE_REASON_LENGTH, WEEKDAYS } from '../freezes';
import { type Json, z } from './zod';

/**
 * Freezes and change windows as the REST API sets and shows them; the gates' own types
 * (common/freezes.ts Freeze, ChangeWindow) are these schemas too.
 */

/** A freeze in force; the platform's is set by a platform administrator, a tenant's by its release managers. */
export const freezeInForceSchema = z.object({
  scope: z.enum(['tenant', 'platform']),
  /** Who froze it: the token subject. */
  frozenBy: z.string(),
  /** ISO 8601, UTC. */
  frozenAt: z.string(),
  reason: z.string(),
});

/** How many running rollouts were told of a change at once. */
const signalled = z.object({
  signalled: z.number().int().describe('Running rollouts told of the change at once').optional(),
});

/** GET and PUT /v1/freeze, /v1/platform/freeze: whether frozen and, if so, the freeze. */
export const freezeSchema = z
  .object({ frozen: z.boolean() })
  .merge(freezeInForceSchema.partial())
  .merge(signalled)
  .openapi('Freeze');

export const putFreezeSchema = z
  .object({ reason: z.string().max(MAX_FREEZE_REASON_LENGTH) })
  .strict()
  .openapi('PutFreeze');

/** Open on each of `days`, from `startHour`:00 to `endHour`:00 UTC (end excluded; 24 is midnight). */
export const changeWindowSchema = z.object({
  days: z.array(z.enum(WEEKDAYS)),
  startHour: z.number().int(),
  endHour: z.number().int(),
});

export const storedChangeWindowsSchema = z.object({
  windows: z.array(changeWindowSchema),
  updatedBy: z.string(),
  updatedAt: z.string(),
});

export const changeWindowsSchema = storedChangeWindowsSchema.merge(signalled).openapi('ChangeWindows');

/**
 * Windows are held to the contract only as objects: the store's checks name the window and field at
 * fault more precisely than a schema mismatch would.
 */
export const putChangeWindowsSchema = z
  .object({ windows: z.array(z.object({}).passthrough()) })
  .strict()
  .describe(
    `1 to ${MAX_CHANGE_WINDOWS} windows, each days (${WEEKDAYS.join(', ')}) and UTC hours: open from ` +
      'startHour (0-23) to endHour (1-24, excluded, after startHour) on each day',
  )
  .openapi('PutChangeWindows');

export type FreezeInForce = Json<typeof freezeInForceSchema>;
export type FreezeState = Json<typeof freezeSchema>;
export type ChangeWindow = Json<typeof changeWindowSchema>;
export type StoredChangeWindows = Json<typeof storedChangeWindowsSchema>;
export type ChangeWindows = Json<typeof changeWindowsSchema>;
