import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from '../../common/errors';
import { parseParameterStoreChange } from '../../lambdas/parameterStoreChangeEvent';
import { thrownBy } from '../support/thrown';

/** The Lambda's event schema against the AWS-documented shapes in shared/fixtures. */
const FIXTURES = path.join(__dirname, '..', '..', '..', 'shared', 'fixtures');
const fixture = (file: string) =>
  JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as Record<string, unknown>;

test.each(readdirSync(FIXTURES).filter((file) => file.endsWith('.json')))(
  'the documented event %s parses whole, envelope and detail',
  (file) => {
    const event = fixture(file);
    expect(parseParameterStoreChange(event)).toEqual(event);
  },
);

test.each([
  ['account', undefined, /^not a Parameter Store Change event: account: Required$/],
  ['region', 7, /^not a Parameter Store Change event: region: Expected string, received number$/],
  ['time', 'yesterday', /^not a Parameter Store Change event: time: /],
  [
    'resources',
    'arn:aws:ssm:us-east-1:123456789012:parameter/x',
    /^not a Parameter Store Change event: resources: /,
  ],
])('an event whose EventBridge envelope has a bad %s is refused, naming it', (field, value, message) => {
  const event = { ...fixture('ssm-change-update.json'), [field]: value };
  const refusal = thrownBy(() => parseParameterStoreChange(event), InvalidArgumentError);
  expect(refusal.message).toMatch(message);
  expect(refusal.field).toBe(field);
});
