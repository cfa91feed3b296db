/**
 * The service SDK: what a consuming service embeds to hold its tenants' configuration, receive rollouts'
 * pushes over CacheRefresh and be found by them in Cloud Map. Start with `ConfigClient`.
 */
export {
  ConfigClient,
  type CloudMapOptions,
  type ConfigClientOptions,
  type HealthHook,
  type KeyHealthHook,
  type PreloadKey,
} from './configClient';
export { configClientOptionsFromEnv, type EnvConfigClientOptions } from './envOptions';
export type { TokenProvider } from './configReaderClient';
export type { ChangeCause, ChangeListener, ConfigChange, HeldValue } from './heldConfig';
export type { InstanceTenancy } from './tenancy';
export type { Outcome } from './outcomeCounters';
export { CloudMapRegistrationError, ConfigClientStateError, ConfigServiceError } from './errors';
