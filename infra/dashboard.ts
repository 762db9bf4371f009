/** The stack's dashboard: gateway errors (all instances, then per instance), the alarm, the responder's outcomes and health, the detector. */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { GATEWAY_STATUSES, METRICS, METRIC_NAMESPACE, SERVICE_NAME } from '../functions/contract/telemetry.ts';

/** What the dashboard shows. */
export interface DashboardSources {
  readonly appName: string;
  readonly gatewayErrors: cloudwatch.Metric;
  readonly alarm: cloudwatch.IAlarm;
  readonly accessLogs: logs.ILogGroup;
  readonly responder: lambda.IFunction;
  readonly detector: lambda.IFunction;
  readonly deadLetters: sqs.IQueue;
}

/** Adds the dashboard to `scope` (the stack), named after the app. */
export function addDashboard(scope: Construct, sources: DashboardSources): cloudwatch.Dashboard {
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', {
    dashboardName: `Reflex-${sources.appName.replace(/[^A-Za-z0-9_-]/g, '-')}`,
  });
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Gateway errors (502/503/504), all instances',
      left: [sources.gatewayErrors.with({ label: 'Gateway errors' })],
      width: 12,
    }),
    new cloudwatch.AlarmStatusWidget({ title: 'Gateway error alarm', alarms: [sources.alarm], width: 12 }),
  );
  dashboard.addWidgets(
    new cloudwatch.LogQueryWidget({
      title: 'Gateway errors per instance (log stream = instance id)',
      logGroupNames: [sources.accessLogs.logGroupName],
      queryLines: [
        'fields @logStream',
        `filter ${GATEWAY_STATUSES.map((status) => `status = ${status}`).join(' or ')}`,
        'stats count(*) as gatewayErrors by @logStream',
        'sort gatewayErrors desc',
      ],
      view: cloudwatch.LogQueryVisualizationType.TABLE,
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: 'Responder outcomes',
      left: [
        new cloudwatch.MathExpression({
          // A search, because the outcomes (dimension OUTCOME_DIMENSION) are whatever the handler reports.
          expression: `SEARCH('Namespace="${METRIC_NAMESPACE}" MetricName="${METRICS.incidents}"', 'Sum', 300)`,
          usingMetrics: {},
          label: 'Incidents',
          period: Duration.minutes(5),
        }),
      ],
      width: 12,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Responder health',
      left: [sources.responder.metricInvocations(), sources.responder.metricErrors(), sources.responder.metricThrottles()],
      right: [sources.deadLetters.metricApproximateNumberOfMessagesVisible({ label: 'Failed events (dead-letter queue)' })],
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: 'Detector: batches, dropped payloads, incidents started',
      // Powertools adds the service as a dimension to every metric it publishes.
      left: [METRICS.detectorBatches, METRICS.detectorDropped, METRICS.detectorStarts].map(
        (metricName) => new cloudwatch.Metric({ namespace: METRIC_NAMESPACE, metricName, dimensionsMap: { service: SERVICE_NAME }, statistic: 'Sum', period: Duration.minutes(1) }),
      ),
      right: [sources.detector.metricErrors(), sources.detector.metricThrottles()],
      width: 12,
    }),
  );
  return dashboard;
}
