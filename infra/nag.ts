/** cdk-nag acknowledgments, shared by the stack and its parts. */
import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Records a cdk-nag (v3) acknowledgment; every one carries its reason. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}
