/** The sandbox's errors: what a caller (the demo, a test) can tell apart. */

/** nginx is not installed: the demo says how to install it instead of failing. */
export class NginxMissingError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NginxMissingError';
  }
}

/** A sandbox step did not reach the state it promised (a fault that did not take, a start that failed). */
export class SandboxError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SandboxError';
  }
}
