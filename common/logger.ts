import { LogFormatter, LogItem, Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import { type LogLevel, loadLogSettings } from './settings';

/**
 * Structured JSON logs, one object per line: `time`, `level`, `message`, then whatever correlation fields
 * the caller has (tenant, key, rollout id); warnings and errors go to stderr, the rest to stdout. Every
 * process, the Lambda included, writes them through Powertools' Logger, and `component` names the
 * process. Values of configs never go in here.
 */
type Fields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

// Powertools drops the fields named like its own keys (`service`, `level`...), which ours may well be:
// they travel under this one key, which the formatter spreads back into the line.
const FIELDS = 'fields';

class JsonLine extends LogItem {
  // Powertools leaves out empty strings and nulls; a field that is empty still says something.
  override prepareForPrint(): void {}
}

class JsonLineFormatter extends LogFormatter {
  override formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    return new JsonLine({
      attributes: {
        time: attributes.timestamp.toISOString(),
        level: attributes.logLevel.toLowerCase(),
        message: attributes.message,
        ...(additional[FIELDS] as Fields | undefined),
      },
    });
  }
}

export function createLogger(base: Fields = {}, minLevel: LogLevel = loadLogSettings().level): Logger {
  const powertools = new PowertoolsLogger({
    serviceName: typeof base.component === 'string' ? base.component : undefined,
    logLevel: minLevel.toUpperCase() as Uppercase<LogLevel>,
    logFormatter: new JsonLineFormatter(),
  });
  const write =
    (level: LogLevel) =>
    (message: string, fields: Fields = {}) =>
      powertools[level](message, { [FIELDS]: { ...base, ...serialize(fields) } });
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (fields) => createLogger({ ...base, ...fields }, minLevel),
  };
}

function serialize(fields: Fields): Fields {
  return Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [
      k,
      v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v,
    ]),
  );
}
