/**
 * An error an emulated AWS service answers with: the HTTP status, the error code the SDK turns into an exception
 * class (`InvalidInstanceId`, `LimitExceededException`…) and its message.
 */
export class AwsServiceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'AwsServiceError';
  }
}
