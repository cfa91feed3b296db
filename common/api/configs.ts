import { pageOf } from './lists';
import { type Json, z } from './zod';

/** A key's value as GET /v1/configs answers it. */
export const configEntrySchema = z
  .object({
    key: z.string(),
    service: z.string().optional(),
    version: z.number().int(),
    value: z.string(),
    format: z.enum(['json', 'text']),
    updatedAt: z.string(),
  })
  .openapi('ConfigEntry');

/**
 * One kept version of a key, as its history lists it; named apart from the store's ConfigVersion
 * (activities/storage/types.ts), which is what the store holds, not what the API shows.
 */
export const configHistoryEntrySchema = configEntrySchema
  .extend({
    live: z.boolean(),
    writtenBy: z.string().optional(),
    copyOf: z
      .number()
      .int()
      .describe('This version is a copy of that older one (a rollout back to it rolled forward)')
      .optional(),
  })
  .openapi('ConfigHistoryEntry');

export const configHistoryPageSchema = pageOf(configHistoryEntrySchema);

export type ConfigEntry = Json<typeof configEntrySchema>;
export type ConfigHistoryEntry = Json<typeof configHistoryEntrySchema>;
export type ConfigHistoryPage = Json<typeof configHistoryPageSchema>;
