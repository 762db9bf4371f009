/**
 * The Reflex stack: host log groups and the gateway-error alarm, the EventBridge rules that invoke the responder,
 * the responder Lambda and everything it touches (SSM documents, topic, table, Slack secret), a dashboard, and the
 * CloudWatch agent configuration a fleet installs.
 */
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct, IConstruct } from 'constructs';
import { ALARM_DETAIL_TYPE, ALARM_SOURCE, MANUAL_DETAIL_TYPE, MANUAL_SOURCE } from '../functions/core/trigger.ts';
import { ENV, LAMBDA_MARGIN_SECONDS } from '../functions/contract/lambda-env.ts';
import { GATEWAY_ERROR_PATTERN, METRICS, METRIC_NAMESPACE, SERVICE_NAME } from '../functions/contract/telemetry.ts';
import { cloudWatchAgentConfigJson, logGroupNames } from './cloudwatch-agent.ts';
import { buildCommandDocument, readHostScript } from './documents.ts';
import { resolveProps, type OptInTag, type ResolvedReflexProps } from './props.ts';

/** Props of {@link ReflexStack}. Every one can also come from CDK context (infra/app.ts, cdk.json). */
export interface ReflexStackProps extends StackProps {
  /** The PM2 app name on the instances; also names the log groups, the alarm and the agent parameter. @default 'web' */
  readonly appName?: string;
  /** The OS user that owns PM2 on the instances (SSM runs as root and switches to it). @default 'ubuntu' */
  readonly pm2User?: string;
  /** PM2_HOME on the instances. @default - the PM2 user's ~/.pm2 */
  readonly pm2Home?: string;
  /** Ecosystem file used to `pm2 start` the app when it is missing from PM2. @default - PM2's saved list (`pm2 save`) */
  readonly ecosystemPath?: string;
  /** The URL probed through nginx on the instance. @default 'http://127.0.0.1/' */
  readonly healthUrl?: string;
  /** The app's own address on the instance. @default - what nginx proxies to */
  readonly upstream?: string;
  /** nginx config the snapshot reads proxy directives from (after `nginx -T`). @default '/etc/nginx/nginx.conf' */
  readonly nginxConfig?: string;
  /** nginx error log on the instances. @default '/var/log/nginx/error.log' */
  readonly nginxErrorLog?: string;
  /** Kernel log file the agent ships (Amazon Linux 2: '/var/log/messages'). @default '/var/log/kern.log' */
  readonly kernelLog?: string;
  /** Reflex runs commands only on instances carrying this tag. @default { key: 'reflex:managed', value: 'true' } */
  readonly optInTag?: OptInTag;
  /** Gateway errors (502/503/504) per period that raise the alarm. @default 5 */
  readonly threshold?: number;
  /** Alarm period, a multiple of 60 seconds. @default 60 */
  readonly periodSeconds?: number;
  /** Breaching periods (out of as many evaluated) that raise the alarm. @default 1 */
  readonly datapoints?: number;
  /** Diagnose and report, never restart. @default false */
  readonly dryRun?: boolean;
  /** How long the responder polls for recovery after acting; the Lambda timeout adds 60 s. At most 840. @default 120 */
  readonly verifySeconds?: number;
  /** Retention of every Reflex log group. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Complete ARN of an existing Secrets Manager secret holding `{"webhookUrl": …}` or `{"botToken": …, "channel": …}`.
   * Without it the stack creates a secret holding `{}` (Slack off) for you to fill in the console or with
   * `aws secretsmanager put-secret-value`. Secrets encrypted with a customer key also need kms:Decrypt.
   * @default - a new secret holding `{}`
   */
  readonly slackSecretArn?: string;
  /** Automatic restarts per instance in a rolling hour; past it Reflex escalates without acting. @default 3 */
  readonly maxRestartsPerHour?: number;
  /** Minimum minutes between two automatic restarts of one instance. @default 5 */
  readonly minMinutesBetweenRestarts?: number;
  /**
   * What `cdk destroy` does with the data: the log groups (incident evidence), the state table and a created
   * Slack secret. RETAIN keeps them, so a redeploy with the same appName must delete or import the log groups first.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** The responder stack. Props are validated at synth: a bad one throws ReflexPropsError naming it. */
export class ReflexStack extends Stack {
  /** The props after defaults and validation. */
  readonly settings: ResolvedReflexProps;
  readonly responder: NodejsFunction;
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
    this.grantResponder(role, {
      documents: [snapshotDocument, remediateDocument],
      optInTag: settings.optInTag,
      logGroups: hostLogGroups,
      slackSecret,
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
      [ENV.dryRun]: String(settings.dryRun),
      [ENV.verifySeconds]: String(settings.verifySeconds),
      [ENV.tableName]: this.table.tableName,
      [ENV.slackSecretArn]: slackSecret.secretArn,
      [ENV.maxRestartsPerHour]: String(settings.maxRestartsPerHour),
      [ENV.minMinutesBetweenRestarts]: String(settings.minMinutesBetweenRestarts),
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
      // Lambda's asynchronous queue (retried up to maxEventAge). Needs 1 of the account's unreserved concurrency.
      reservedConcurrentExecutions: 1,
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
      deadLetterQueue: deadLetters,
      description: `Reflex responder for ${settings.appName}: diagnose gateway errors, restart what a restart fixes, report.`,
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: false,
        mainFields: ['module', 'main'],
        // Some dependencies (Slack's HTTP stack) still call require() for Node built-ins; ESM has no require.
        banner: "import { createRequire } from 'node:module';const require = createRequire(import.meta.url);",
        // The SDK v3 is bundled, not taken from the runtime, so the tested versions are the deployed ones.
        // Measured with every planned dependency: about 0.6 MB minified, well under the 1 MB budget.
        externalModules: [],
      },
    });

    acknowledge(
      this.responder,
      'AwsSolutions-L1',
      'nodejs22.x is supported until 2027 and is the newest Node the code is tested on (CI runs 20 and 22); move to NODEJS_24_X with the test matrix.',
    );

    const target = new targets.LambdaFunction(this.responder, {
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

    this.addDashboard(settings.appName, gatewayErrors, accessLogs, deadLetters);

    new CfnOutput(this, 'ResponderFunctionName', { value: this.responder.functionName, description: 'For aws lambda invoke with a file from events/.' });
    new CfnOutput(this, 'TopicArn', { value: this.topic.topicArn, description: 'Subscribe email or Amazon Q Developer in chat here.' });
    new CfnOutput(this, 'SlackSecretArn', { value: slackSecret.secretArn, description: 'Put {"webhookUrl": …} or {"botToken": …, "channel": …} here.' });
    new CfnOutput(this, 'AgentConfigParameter', { value: agentParameter.parameterName });
    new CfnOutput(this, 'AlarmName', { value: alarmName });
    new CfnOutput(this, 'OptInTag', { value: `${settings.optInTag.key}=${settings.optInTag.value}` });
  }

  /** A secret holding `{}` (Slack off) for the user to fill in. */
  private createSlackSecret(appName: string, removalPolicy: RemovalPolicy): secretsmanager.Secret {
    const secret = new secretsmanager.Secret(this, 'SlackSecret', {
      description: `Reflex ${appName}: Slack delivery. Put {"webhookUrl": "https://hooks.slack.com/…"} or {"botToken": "xoxb-…", "channel": "C…"}; {} keeps Slack off.`,
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

  /** The responder's permissions: only what the incident flow uses, on only Reflex's resources. */
  private grantResponder(
    role: iam.Role,
    scope: {
      readonly documents: readonly ssm.CfnDocument[];
      readonly optInTag: OptInTag;
      readonly logGroups: readonly logs.LogGroup[];
      readonly slackSecret: secretsmanager.ISecret;
    },
  ): void {
    const stack = Stack.of(this);
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'SendCommandReflexDocuments',
        actions: ['ssm:SendCommand'],
        resources: scope.documents.map((document) =>
          stack.formatArn({ service: 'ssm', resource: 'document', resourceName: document.ref }),
        ),
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'SendCommandOptedInInstances',
        actions: ['ssm:SendCommand'],
        resources: [stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' })],
        conditions: { StringEquals: { [`ssm:resourceTag/${scope.optInTag.key}`]: scope.optInTag.value } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadCommandResults',
        actions: ['ssm:GetCommandInvocation', 'ssm:ListCommandInvocations'],
        resources: ['*'],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'QueryHostLogs',
        actions: ['logs:StartQuery', 'logs:FilterLogEvents', 'logs:GetLogEvents'],
        resources: scope.logGroups.map((group) => group.logGroupArn),
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadQueryResults',
        actions: ['logs:GetQueryResults', 'logs:StopQuery'],
        resources: ['*'],
      }),
    );
    this.topic.grantPublish(role);
    this.table.grant(role, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query');
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadSlackSecret',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [scope.slackSecret.secretArn],
      }),
    );

    const policy = role.node.tryFindChild('DefaultPolicy');
    if (!policy) return;
    acknowledge(
      policy,
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]',
      'SendCommand targets are not known at deploy time; the statement is limited to instances carrying the opt-in tag (ssm:resourceTag condition) and the documents are limited to Reflex\'s own two.',
    );
    acknowledge(
      policy,
      'AwsSolutions-IAM5[Resource::*]',
      'ssm:GetCommandInvocation, ssm:ListCommandInvocations, logs:GetQueryResults and logs:StopQuery support no resource-level permissions; they only read results of commands and queries the role itself started.',
    );
  }

  private addDashboard(appName: string, gatewayErrors: cloudwatch.Metric, accessLogs: logs.ILogGroup, deadLetters: sqs.IQueue): void {
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `Reflex-${appName.replace(/[^A-Za-z0-9_-]/g, '-')}`,
    });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Gateway errors (502/503/504), all instances',
        left: [gatewayErrors.with({ label: 'Gateway errors' })],
        width: 12,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Gateway error alarm', alarms: [this.alarm], width: 12 }),
    );
    dashboard.addWidgets(
      new cloudwatch.LogQueryWidget({
        title: 'Gateway errors per instance (log stream = instance id)',
        logGroupNames: [accessLogs.logGroupName],
        queryLines: [
          'fields @logStream',
          'filter status = 502 or status = 503 or status = 504',
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
        left: [this.responder.metricInvocations(), this.responder.metricErrors(), this.responder.metricThrottles()],
        right: [deadLetters.metricApproximateNumberOfMessagesVisible({ label: 'Failed events (dead-letter queue)' })],
        width: 24,
      }),
    );
  }
}

/** Records a cdk-nag (v3) acknowledgment; every one carries its reason. */
function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** An absolute path inside the repository, wherever the CDK app runs from. */
function repoPath(relative: string): string {
  return fileURLToPath(new URL(`../${relative}`, import.meta.url));
}
