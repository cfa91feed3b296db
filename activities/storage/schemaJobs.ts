import type { ValueFormat } from '../../common/configAddress';

/** What crosses between the schema pool and its threads: JSON text and plain objects only. */
export interface SchemaWorkerData {
  /** How many compiled schemas a thread keeps. */
  readonly cacheEntries: number;
}

/** Schemas travel as the JSON that schemaText measured, never as objects a structured clone would walk. */
export type SchemaJobInput =
  | { readonly kind: 'check'; readonly schema: string }
  | {
      readonly kind: 'validate';
      readonly schema: string;
      readonly key: string;
      readonly format: ValueFormat;
      readonly value: string;
    };

export type SchemaJob = SchemaJobInput & { readonly id: number };

/** A refusal the caller can act on, rebuilt as the same PlatformError on the pool's side. */
export type SchemaRefusal =
  | { readonly code: 'InvalidArgument'; readonly message: string; readonly field?: string }
  | { readonly code: 'SchemaViolation'; readonly key: string; readonly violations: readonly string[] };

export type SchemaWorkerMessage =
  | { readonly ready: true }
  | { readonly id: number; readonly outcome: 'passed' }
  | { readonly id: number; readonly outcome: 'refused'; readonly refusal: SchemaRefusal }
  | { readonly id: number; readonly outcome: 'crashed'; readonly message: string };
