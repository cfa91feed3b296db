import type { TemporalSettings } from '../common/settings';

/** Connection options shared by the worker (NativeConnection) and clients (Connection). */
export function temporalConnectionOptions(settings: TemporalSettings): {
  address: string;
  tls?: boolean;
  apiKey?: string;
} {
  return {
    address: settings.address,
    ...(settings.tls ? { tls: true } : {}),
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
  };
}
