/** cdk-nag acknowledgments, shared by the stack and its parts, and Reflex's own checks beside AwsSolutions. */
import { Validations, type CfnResource } from 'aws-cdk-lib';
import { NagMessageLevel, NagPack, rules, type NagPackProps } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** Records a cdk-nag (v3) acknowledgment; every one carries its reason. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * Checks AwsSolutions does not make: a Lambda function URL that takes unauthenticated requests (cdk-nag has the
 * rule, in no pack that Reflex runs). An open URL is then a synth error unless it is acknowledged with the reason it
 * is safe, as the interactivity endpoint's is. Rule ids: `Reflex-<rule>`.
 */
export class ReflexChecks extends NagPack {
  readonly name = 'Reflex';

  constructor(scope?: IConstruct, props?: NagPackProps) {
    super(scope, props);
    this.packName = 'Reflex';
  }

  protected checkResource(node: CfnResource): void {
    this.applyRule({
      info: 'The Lambda function URL takes unauthenticated requests (AuthType NONE).',
      explanation: 'Anyone who finds the URL can invoke the function: the function itself must authenticate every request, and the acknowledgment must say how.',
      level: NagMessageLevel.ERROR,
      rule: rules.lambda.LambdaFunctionUrlAuth,
      node,
    });
  }
}
