/** The interactivity endpoint's environment: the Slack secret's ARN and the approvers, checked at cold start. */
import { describe, expect, it } from 'vitest';
import { INTERACT_ENV } from '../../../functions/contract/lambda-env.ts';
import { InteractConfigError, parseInteractConfig } from '../../../functions/interact/config.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:reflex-web-slack-AbCdEf';

describe('parseInteractConfig', () => {
  it('reads the secret ARN and the approvers, trimmed and without repeats', () => {
    // Act
    const config = parseInteractConfig({ [INTERACT_ENV.slackSecretArn]: ARN, [INTERACT_ENV.approvers]: 'U0APPROVER, W0GRID,U0APPROVER,' });
    // Assess
    expect(config).toEqual({ slackSecretArn: ARN, approvers: ['U0APPROVER', 'W0GRID'] });
  });

  it('has no approvers when the variable is empty: anyone in the channel may answer', () => {
    expect(parseInteractConfig({ [INTERACT_ENV.slackSecretArn]: ARN, [INTERACT_ENV.approvers]: '' }).approvers).toEqual([]);
  });

  it.each([
    ['no secret ARN', {}, `${INTERACT_ENV.slackSecretArn} is not set`],
    ['an ARN of another service', { [INTERACT_ENV.slackSecretArn]: 'arn:aws:ssm:eu-west-1:123456789012:parameter/x' }, `${INTERACT_ENV.slackSecretArn} is invalid`],
    ['a name instead of a user id', { [INTERACT_ENV.slackSecretArn]: ARN, [INTERACT_ENV.approvers]: 'ana' }, `${INTERACT_ENV.approvers} is invalid`],
    ['a channel id among the users', { [INTERACT_ENV.slackSecretArn]: ARN, [INTERACT_ENV.approvers]: 'U0APPROVER,C0INCIDENTS' }, `${INTERACT_ENV.approvers} must be Slack user ids`],
  ])('fails the cold start on %s, naming the variable', (_case, env, message) => {
    expect(() => parseInteractConfig(env)).toThrow(InteractConfigError);
    expect(() => parseInteractConfig(env)).toThrow(message);
  });
});
