/**
 * Errors shared by the AWS adapters, and the few helpers that read SDK v3 errors.
 * SDK messages can carry ARNs, request ids or payload fragments: adapters build their own sentence for a human
 * and keep the SDK error only as `cause`.
 */

/** A CloudWatch Logs call failed in a way the adapter cannot turn into data (missing permission, bad group…). */
export class LogQueryError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LogQueryError';
  }
}

/** The SDK error's name (`InvalidInstanceId`, `ThrottlingException`…), or `UnknownError` for anything else. */
export function awsErrorName(error: unknown): string {
  if (error instanceof Error && error.name) return error.name;
  return 'UnknownError';
}

const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RateExceeded',
]);

/** True for the throttling errors the SDK gives up on after its own retries. */
export function isThrottling(error: unknown): boolean {
  if (THROTTLING_NAMES.has(awsErrorName(error))) return true;
  const retryable = (error as { $retryable?: { throttling?: boolean } } | undefined)?.$retryable;
  return retryable?.throttling === true;
}

/** True for `AccessDenied`, `AccessDeniedException`, `AuthorizationErrorException`… */
export function isAccessDenied(error: unknown): boolean {
  const name = awsErrorName(error);
  return name.startsWith('AccessDenied') || name === 'AuthorizationErrorException' || name === 'UnauthorizedOperation';
}
