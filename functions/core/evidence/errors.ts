/** The snapshot script's output is not a snapshot at all (no `@@reflex-snapshot 1` header). */
export class SnapshotParseError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SnapshotParseError';
  }
}
