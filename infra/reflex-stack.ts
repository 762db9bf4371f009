/**
 * The Reflex stack: host log groups and the gateway-error alarm, the EventBridge rules that invoke the responder,
 * the detector (per-instance counts from the access log's subscription, detector.ts), the responder Lambda and everything it touches (SSM documents, topic, table, Slack secret), a dashboard, and the
 * CloudWatch agent configuration a fleet installs. Its props are in props.ts, the responder's IAM statements in
 * responder-permissions.ts, the dashboard in dashboard.ts and the SSM documents in documents.ts.
 */
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Stack, type RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { DETECTOR_SETTINGS, ENV, LAMBDA_MARGIN_SECONDS } from '../functions/contract/lambda-env.ts';
import { GATEWAY_ERROR_PATTERN, METRICS, METRIC_NAMESPACE, SERVICE_NAME } from '../functions/contract/telemetry.ts';
import { ALARM_DETAIL_TYPE, ALARM_SOURCE, MANUAL_DETAIL_TYPE, MANUAL_SOURCE } from '../functions/core/trigger.ts';
import { cloudWatchAgentConfigJson, logGroupNames } from './cloudwatch-agent.ts';
import { addDashboard } from './dashboard.ts';
import { LAMBDA_BUNDLING } from './bundling.ts';
import { addDetector } from './detector.ts';
import { buildCommandDocument, readHostScript } from './documents.ts';
import { modesText } from '../functions/core/modes.ts';
import { addInteract, type Interact } from './interact.ts';
import { acknowledge } from './nag.ts';
import { resolveProps, type ReflexStackProps, type ResolvedReflexProps } from './props.ts';
import { grantDurableExecution, grantResponder } from './responder-permissions.ts';

/** The alias every start goes through: a durable function runs only when invoked with a version or an alias. */
export const RESPONDER_ALIAS = 'live';

/** The responder stack. Props are validated at synth: a bad one throws ReflexPropsError naming it. */
export class ReflexStack extends Stack {
  /** The props after defaults and validation. */
  readonly settings: ResolvedReflexProps;
  readonly responder: NodejsFunction;
  /**
   * The responder's `live` alias, on the version this deploy published: what the rules and the detector invoke.
   * Each incident is a durable execution of that version; one in flight when a deploy moves the alias finishes on
   * the version it started on.
   */
  readonly responderAlias: lambda.Alias;
  /** Counts gateway errors per instance from the access log's subscription and starts the responder. */
  readonly detector: NodejsFunction;
  /** Approve mode: Slack's button clicks, through a function URL, to the incident waiting for them (interact.ts). */
  readonly interact: Interact;
  readonly alarm: cloudwatch.Alarm;
  readonly topic: sns.Topic;
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ReflexStackProps = {}) {
    super(scope, id, props);
    const settings = resolveProps(props);
    this.settings = settings;
    const names = logGroupNames(settings.appName);
    const retention = settings.logRetention;
    const removalPolicy = settings.removalPolicy;

    // ------------------------------------------------------------------ host logs, metric, alarm
    const logGroup = (constructId: string, logGroupName: string): logs.LogGroup =>
      new logs.LogGroup(this, constructId, { logGroupName, retention, removalPolicy });
    const accessLogs = logGroup('NginxAccessLogs', names.nginxAccess);
    const errorLogs = logGroup('NginxErrorLogs', names.nginxError);
    const appLogs = logGroup('Pm2AppLogs', names.pm2App);
    const pm2Logs = logGroup('Pm2Logs', names.pm2);
    const kernelLogs = logGroup('KernelLogs', names.kernel);
    const responderLogs = logGroup('ResponderLogs', names.responder);
    const detectorLogs = logGroup('DetectorLogs', names.detector);
    const interactLogs = logGroup('InteractLogs', names.interact);
    const hostLogGroups = [accessLogs, errorLogs, appLogs, pm2Logs, kernelLogs];

    // No per-instance dimension: a metric filter dimension must be a `$.field` of the log event, and the instance
    // id lives only in the stream name, which is not a field (the only system fields are @aws.account and
    // @aws.region). CloudWatch also refuses a default value together with dimensions, and the 0 default keeps the
    // metric continuous. The responder finds the instances from @logStream in Logs Insights instead.
    const gatewayFilter = new logs.MetricFilter(this, 'GatewayErrorsFilter', {
      logGroup: accessLogs,
      filterPattern: logs.FilterPattern.literal(GATEWAY_ERROR_PATTERN),
      metricNamespace: METRIC_NAMESPACE,
      metricName: METRICS.gatewayErrors,
      metricValue: '1',
      defaultValue: 0,
    });
    const period = Duration.seconds(settings.periodSeconds);
    // A literal name, so the EventBridge pattern and the responder's environment read plainly in the template.
    const alarmName = `reflex-${settings.appName}-gateway-errors`;
    // No label on the alarm's metric: a label turns the alarm into a metric-math alarm for no benefit.
    const gatewayErrors = gatewayFilter.metric({ statistic: cloudwatch.Stats.SUM, period });
    this.alarm = new cloudwatch.Alarm(this, 'GatewayErrorsAlarm', {
      alarmName,
      alarmDescription: `Reflex: ${settings.threshold}+ nginx gateway errors (502/503/504) in ${settings.datapoints} of ${settings.datapoints} periods of ${settings.periodSeconds} s.`,
      metric: gatewayErrors,
      threshold: settings.threshold,
      evaluationPeriods: settings.datapoints,
      datapointsToAlarm: settings.datapoints,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No traffic is not an outage: an idle site must not page anyone.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // ------------------------------------------------------------------ report, state, Slack
    const deadLetters = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    // The AWS-managed SNS key: encryption at rest without a key to pay for, rotate or write a policy for. It suits
    // this topic because only the responder (an IAM principal) publishes to it; an AWS service publisher such as a
    // CloudWatch alarm action would need a customer key whose policy admits that service.
    this.topic = new sns.Topic(this, 'ReportTopic', {
      displayName: `Reflex ${settings.appName}`,
      enforceSSL: true,
      masterKey: kms.Alias.fromAliasName(this, 'SnsManagedKey', 'alias/aws/sns'),
    });

    this.table = new dynamodb.Table(this, 'StateTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy,
    });

    const slackSecret = settings.slackSecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, 'SlackSecret', settings.slackSecretArn)
      : this.createSlackSecret(settings.appName, removalPolicy);

    // ------------------------------------------------------------------ SSM documents
    const snapshotDocument = new ssm.CfnDocument(this, 'SnapshotDocument', {
      documentType: 'Command',
      documentFormat: 'JSON',
      content: buildCommandDocument('snapshot', readHostScript('snapshot')),
      // No fixed name: a changed script replaces the document under a new name, so the responder (whose
      // environment follows) never runs an old default version.
    });
    const remediateDocument = new ssm.CfnDocument(this, 'RemediateDocument', {
      documentType: 'Command',
      documentFormat: 'JSON',
      content: buildCommandDocument('remediate', readHostScript('remediate')),
    });

    // ------------------------------------------------------------------ responder
    const role = new iam.Role(this, 'ResponderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Reflex responder: least privilege, no managed policies.',
    });
    responderLogs.grantWrite(role);
    grantResponder(role, {
      documents: [snapshotDocument, remediateDocument],
      optInTag: settings.optInTag,
      logGroups: hostLogGroups,
      slackSecret,
      topic: this.topic,
      table: this.table,
    });

    const windowSeconds = settings.periodSeconds * settings.datapoints;
    const environment: Record<string, string> = {
      [ENV.appName]: settings.appName,
      [ENV.pm2User]: settings.pm2User,
      [ENV.pm2Home]: settings.pm2Home,
      [ENV.ecosystem]: settings.ecosystemPath,
      [ENV.healthUrl]: settings.healthUrl,
      [ENV.upstream]: settings.upstream,
      [ENV.nginxConfig]: settings.nginxConfig,
      [ENV.nginxErrorLog]: settings.nginxErrorLog,
      [ENV.snapshotDocument]: snapshotDocument.ref,
      [ENV.remediateDocument]: remediateDocument.ref,
      [ENV.topicArn]: this.topic.topicArn,
      [ENV.alarmName]: alarmName,
      [ENV.windowSeconds]: String(windowSeconds),
      [ENV.accessLogGroup]: accessLogs.logGroupName,
      [ENV.errorLogGroup]: errorLogs.logGroupName,
      // The daemon's pm2.log (exits, restarts, stops) is the PM2 evidence the core parses.
      [ENV.pm2LogGroup]: pm2Logs.logGroupName,
      [ENV.kernelLogGroup]: kernelLogs.logGroupName,
      [ENV.appLogGroup]: appLogs.logGroupName,
      [ENV.dryRun]: String(settings.dryRun),
      [ENV.verifySeconds]: String(settings.verifySeconds),
      [ENV.tableName]: this.table.tableName,
      [ENV.slackSecretArn]: slackSecret.secretArn,
      [ENV.maxRestartsPerHour]: String(settings.maxRestartsPerHour),
      [ENV.minMinutesBetweenRestarts]: String(settings.minMinutesBetweenRestarts),
      [ENV.maxWave]: String(settings.maxWave),
      [ENV.modes]: modesText(settings.modes),
      [ENV.approvalMinutes]: String(settings.approvalMinutes),
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
    };

    this.responder = new NodejsFunction(this, 'Responder', {
      entry: repoPath('functions/responder/handler.ts'),
      handler: 'handler',
      projectRoot: repoPath('.'),
      depsLockFilePath: repoPath('package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(settings.verifySeconds + LAMBDA_MARGIN_SECONDS),
      role,
      logGroup: responderLogs,
      environment,
      // One incident at a time: the per-instance lock and restart budget live in DynamoDB, and one invocation at a
      // time also keeps a fleet-wide alarm from restarting several instances at once. Extra events wait in
      // Lambda's asynchronous queue (retried up to maxEventAge, set on the alias below: the qualifier invoked).
      // Needs 1 of the account's unreserved concurrency.
      reservedConcurrentExecutions: 1,
      deadLetterQueue: deadLetters,
      // Every incident is a durable execution (functions/responder/handler.ts wraps the handler with
      // withDurableExecution): its steps are checkpointed, so a cut-off invocation resumes where it stopped, and
      // it may outlast one invocation's timeout while it works through a fleet.
      durableConfig: {
        executionTimeout: Duration.minutes(settings.executionTimeoutMinutes),
        retentionPeriod: Duration.days(settings.executionRetentionDays),
      },
      description: `Reflex responder for ${settings.appName}: diagnose gateway errors, restart what a restart fixes, report.`,
      // Measured with every planned dependency: about 0.6 MB minified, well under the 1 MB budget.
      bundling: LAMBDA_BUNDLING,
    });

    grantDurableExecution(this, role, this.responder);
    this.responderAlias = this.responder.addAlias(RESPONDER_ALIAS, {
      description: 'What the EventBridge rules and the detector start incidents on (a durable function needs a qualified ARN).',
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
    });

    acknowledge(
      this.responder,
      'AwsSolutions-L1',
      'nodejs22.x is supported until 2027 and is the newest Node the code is tested on (CI runs 20 and 22); move to NODEJS_24_X with the test matrix.',
    );

    // Per instance, in seconds: the alarm's threshold and period, counted for each instance on its own.
    this.detector = addDetector(this, {
      appName: settings.appName,
      accessLogs,
      logGroup: detectorLogs,
      table: this.table,
      responder: this.responderAlias,
      threshold: settings.threshold,
      windowSeconds: Math.min(settings.periodSeconds, DETECTOR_SETTINGS.windowSeconds.max),
      deadLetters,
      entry: repoPath('functions/detector/handler.ts'),
      projectRoot: repoPath('.'),
      depsLockFilePath: repoPath('package-lock.json'),
    });

    this.interact = addInteract(this, {
      appName: settings.appName,
      logGroup: interactLogs,
      slackSecret,
      responder: this.responder,
      approvers: settings.approvers,
      entry: repoPath('functions/interact/handler.ts'),
      projectRoot: repoPath('.'),
      depsLockFilePath: repoPath('package-lock.json'),
    });

    // The alias, not the function: an unqualified invoke of a durable function is refused.
    const target = new targets.LambdaFunction(this.responderAlias, {
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
      deadLetterQueue: deadLetters,
    });
    new events.Rule(this, 'AlarmRule', {
      description: `Reflex: invoke the responder when ${alarmName} goes into ALARM.`,
      eventPattern: {
        source: [ALARM_SOURCE],
        detailType: [ALARM_DETAIL_TYPE],
        detail: { alarmName: [alarmName], state: { value: ['ALARM'] } },
      },
      targets: [target],
    });
    new events.Rule(this, 'ManualRule', {
      description: 'Reflex: invoke the responder on a manual event (reflex invoke, or aws events put-events).',
      eventPattern: { source: [MANUAL_SOURCE], detailType: [MANUAL_DETAIL_TYPE] },
      targets: [target],
    });

    // ------------------------------------------------------------------ fleet setup and observation
    const agentParameter = new ssm.StringParameter(this, 'AgentConfig', {
      parameterName: `AmazonCloudWatch-reflex-${settings.appName}`,
      description: 'Reflex: CloudWatch agent log collection (install with AmazonCloudWatch-ManageAgent).',
      stringValue: cloudWatchAgentConfigJson({
        appName: settings.appName,
        pm2User: settings.pm2User,
        ...(settings.pm2Home && { pm2Home: settings.pm2Home }),
        nginxErrorLog: settings.nginxErrorLog,
        kernelLog: settings.kernelLog,
      }),
      tier: ssm.ParameterTier.STANDARD,
    });

    addDashboard(this, {
      appName: settings.appName,
      gatewayErrors,
      alarm: this.alarm,
      accessLogs,
      responder: this.responder,
      detector: this.detector,
      deadLetters,
    });

    new CfnOutput(this, 'ResponderFunctionName', {
      value: `${this.responder.functionName}:${RESPONDER_ALIAS}`,
      description: 'The responder with its alias (function:live), for aws lambda invoke with a file from events/: a durable function is invoked qualified.',
    });
    new CfnOutput(this, 'TopicArn', { value: this.topic.topicArn, description: 'Subscribe email or Amazon Q Developer in chat here.' });
    new CfnOutput(this, 'SlackSecretArn', {
      value: slackSecret.secretArn,
      description: 'Put {"webhookUrl": …} or {"botToken": …, "channel": …} here; approve mode adds "signingSecret".',
    });
    new CfnOutput(this, 'AgentConfigParameter', { value: agentParameter.parameterName });
    new CfnOutput(this, 'AlarmName', { value: alarmName });
    new CfnOutput(this, 'OptInTag', { value: `${settings.optInTag.key}=${settings.optInTag.value}` });
  }

  /** A secret holding `{}` (Slack off) for the user to fill in. */
  private createSlackSecret(appName: string, removalPolicy: RemovalPolicy): secretsmanager.Secret {
    const secret = new secretsmanager.Secret(this, 'SlackSecret', {
      description: `Reflex ${appName}: Slack delivery. Put {"webhookUrl": "https://hooks.slack.com/…"} or {"botToken": "xoxb-…", "channel": "C…"} (approve mode: and "signingSecret"); {} keeps Slack off.`,
      // An empty JSON object is no secret: the real value is set outside CloudFormation, never in a template.
      secretObjectValue: {},
      removalPolicy,
    });
    acknowledge(
      secret,
      'AwsSolutions-SMG4',
      'A Slack webhook URL or bot token cannot be rotated by a Lambda rotation function; it is replaced by hand in Slack and here.',
    );
    return secret;
  }
}

/** An absolute path inside the repository, wherever the CDK app runs from. */
function repoPath(relative: string): string {
  return fileURLToPath(new URL(`../${relative}`, import.meta.url));
}
