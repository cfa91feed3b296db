/** A config value's address and format: the vocabulary the SDK and the control plane share. */

export type ValueFormat = 'json' | 'text';

/** Where one config value lives. The tenant always comes from a verified token, never from a request. */
export interface ConfigAddress {
  readonly tenantId: string;
  readonly key: string;
  /** Required by backends that keep values per service (Parameter Store); ignored by the others. */
  readonly service?: string;
}
