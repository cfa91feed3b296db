import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

/**
 * zod with `.openapi()`: the contract's schemas name their OpenAPI components and carry the few keywords
 * zod has no check for (uniqueItems). Every module of common/api takes `z` from here, so the extension
 * is in place before any schema is built.
 */
extendZodWithOpenApi(z);

export { z };

/** The largest integer a JSON number carries exactly. */
export const MAX_JSON_INTEGER = Number.MAX_SAFE_INTEGER;

/**
 * The contract's JSON as the code holds it: read-only all the way down, as the domain types were
 * before they were derived from the schemas.
 */
export type ReadonlyDeep<T> = T extends (infer Item)[]
  ? readonly ReadonlyDeep<Item>[]
  : T extends object
    ? { readonly [K in keyof T]: ReadonlyDeep<T[K]> }
    : T;

/** The JSON a schema describes, read-only. */
export type Json<Schema extends z.ZodTypeAny> = ReadonlyDeep<z.infer<Schema>>;
