import { type Json, z } from './zod';

/** RFC 9457 problem details: every error the API answers has this shape and media type. */
export const problemSchema = z
  .object({
    type: z.string(),
    /** The error code (common/errors.ts). */
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    /** The input at fault. */
    field: z.string().optional(),
    limit: z.string().describe('For 429: the rate limit or quota exceeded').optional(),
  })
  .openapi('Problem');

export type Problem = Json<typeof problemSchema>;
