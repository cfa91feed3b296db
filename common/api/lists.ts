import { type Json, z } from './zod';

/** A 200 answer of `{ items: [...] }`. */
export function itemsOf<Item extends z.ZodTypeAny>(item: Item) {
  return z.object({ items: z.array(item) });
}

const pageFields = z.object({ nextPageToken: z.string().optional() });

/** A paged list: pass `nextPageToken` back as `pageToken` for the next page. */
export function pageOf<Item extends z.ZodTypeAny>(item: Item) {
  return itemsOf(item).merge(pageFields);
}

export interface Items<Item> {
  readonly items: readonly Item[];
}

export type Page<Item> = Items<Item> & Json<typeof pageFields>;
