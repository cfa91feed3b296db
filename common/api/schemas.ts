import { type Json, MAX_JSON_INTEGER, z } from './zod';

/** Any JSON object: a JSON Schema is checked as one by the store, with messages of its own. */
const jsonObject = z.object({}).passthrough();

/** The JSON Schema a key's values must match, as stored. */
export const valueSchemaSchema = z
  .object({
    key: z.string(),
    version: z.number().int(),
    schema: jsonObject,
    updatedAt: z.string(),
    updatedBy: z.string(),
  })
  .openapi('ValueSchema');

export const putSchemaSchema = z
  .object({
    schema: jsonObject.describe("A JSON Schema; a text key's value is checked as a string"),
    expectedVersion: z
      .number()
      .int()
      .min(0)
      .max(MAX_JSON_INTEGER)
      .describe('The version you last read (0: none yet); refused with 409 if the schema changed since')
      .optional(),
  })
  .strict()
  .openapi('PutSchema');

export type ValueSchema = Json<typeof valueSchemaSchema>;
export type PutSchema = Json<typeof putSchemaSchema>;
