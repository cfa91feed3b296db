import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import { z } from 'zod';
import { InvalidArgumentError } from '../common/errors';

/**
 * The EventBridge "Parameter Store Change" event, validated before any logic runs: Powertools' envelope
 * of every EventBridge event, narrowed to this source and detail. AWS may add fields.
 */
const eventSchema = EventBridgeSchema.extend({
  id: z.string().min(1),
  source: z.literal('aws.ssm'),
  'detail-type': z.literal('Parameter Store Change'),
  detail: z.object({
    operation: z.string().min(1),
    name: z.string().min(1),
    type: z.string().optional(),
    description: z.string().optional(),
    labels: z.array(z.string()).optional(),
  }),
});

export type ParameterStoreChange = z.infer<typeof eventSchema>;

export function parseParameterStoreChange(event: unknown): ParameterStoreChange {
  const result = eventSchema.safeParse(event);
  if (!result.success) {
    const [issue] = result.error.issues;
    const field = issue?.path.join('.') || 'event';
    throw new InvalidArgumentError(
      `not a Parameter Store Change event: ${field}: ${issue?.message ?? 'invalid'}`,
      field,
    );
  }
  return result.data;
}
