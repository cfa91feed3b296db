import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { repoRoot } from '../common/repoRoot';

/**
 * The EventBridge rule's event pattern, read from the AWS template itself so the local stand-in and
 * the tests match exactly what is deployed.
 */
export const TEMPLATE_PATH = path.join(repoRoot(), 'deploy', 'template.yaml');
export const RULE_LOGICAL_ID = 'ParameterStoreChangeRule';

export function parameterStoreRulePattern(templatePath: string = TEMPLATE_PATH): Record<string, unknown> {
  // CloudFormation's short-form intrinsics (!Ref, !Sub, …) are tags the YAML parser does not know; they
  // only appear in values the pattern does not use, so they are read as plain values.
  const template = parseDocument(readFileSync(templatePath, 'utf8')).toJS() as {
    Resources?: Record<string, { Properties?: { EventPattern?: unknown } }>;
  };
  const pattern = template.Resources?.[RULE_LOGICAL_ID]?.Properties?.EventPattern;
  if (typeof pattern !== 'object' || pattern === null) {
    throw new Error(`${templatePath} has no ${RULE_LOGICAL_ID} with an EventPattern`);
  }
  return pattern as Record<string, unknown>;
}
