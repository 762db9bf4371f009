/**
 * How the detector starts an incident: an asynchronous invoke of the responder's alias (a durable function runs only
 * when invoked qualified), named after the incident. The execution name is Lambda's idempotency key: a second start
 * of the same incident (an SDK retry of the invoke, a redelivered batch) joins the execution already running instead
 * of starting another.
 */
import { DurableExecutionAlreadyStartedException, InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { DetectorStart, StartIncident } from '../core/detect.ts';
import { detectorEvent } from '../core/trigger.ts';

/** What Lambda accepts as a durable execution name. */
export const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The incident id as its execution's name; an id Lambda would refuse is a bug here, not a start failure to retry. */
export function executionName(start: DetectorStart): string {
  if (!EXECUTION_NAME.test(start.incidentId)) throw new Error(`incident id ${JSON.stringify(start.incidentId)} is not a valid durable execution name`);
  return start.incidentId;
}

/**
 * Starts the responder's execution for one incident. Lambda answers DurableExecutionAlreadyStartedException when the
 * name exists with another payload (the same incident, started with a later `time`): the incident is running, so that
 * is a start, not a failure (a failure would give the claim back while the execution holds the instance).
 */
export function responderStarter(lambda: LambdaClient, functionName: string, logger: { info(message: string, ...extra: unknown[]): void }): StartIncident {
  return async (start) => {
    const name = executionName(start);
    try {
      await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'Event',
          DurableExecutionName: name,
          Payload: Buffer.from(JSON.stringify(detectorEvent(start))),
        }),
      );
    } catch (error) {
      if (!(error instanceof DurableExecutionAlreadyStartedException)) throw error;
      logger.info('incident already started', { incidentId: name });
    }
  };
}
