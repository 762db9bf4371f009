/**
 * The names the responder publishes under and the dashboard and alarm read: change one here and both sides follow.
 * The dashboard's `SEARCH` expression finds the outcome metric by namespace and name, so a name typed twice
 * would leave an empty graph, not an error.
 */

/** Powertools service name, shared by the logger and the metrics. */
export const SERVICE_NAME = 'reflex';
/** CloudWatch namespace of the gateway-error metric and of the responder's EMF metrics. */
export const METRIC_NAMESPACE = 'Reflex';

/** Metric names in METRIC_NAMESPACE. */
export const METRICS = {
  /** Published by the access-log metric filter; the alarm watches it. */
  gatewayErrors: 'GatewayErrors',
  /** One per incident handled, with the dimension OUTCOME_DIMENSION (EMF, from the handler). */
  incidents: 'Incidents',
  /** One per event received, whatever became of it. */
  events: 'Events',
  /** The detector: one per subscription batch, one per batch dropped as malformed, one per incident it started. */
  detectorBatches: 'DetectorBatches',
  detectorDropped: 'DetectorDropped',
  detectorStarts: 'DetectorStarts',
} as const;

/** The dimension of METRICS.incidents: the incident's outcome. */
export const OUTCOME_DIMENSION = 'outcome';

/** nginx answers 502 (refused, closed), 504 (upstream timeout) and 503 (no live upstreams, limits). */
export const GATEWAY_STATUSES = [502, 503, 504] as const;

/** The CloudWatch Logs filter pattern that keeps only gateway errors; `$status` is logged unquoted, so it compares numbers. */
export const GATEWAY_ERROR_PATTERN = `{ ${GATEWAY_STATUSES.map((status) => `($.status = ${status})`).join(' || ')} }`;
