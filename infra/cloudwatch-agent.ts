/**
 * Log group names and the CloudWatch agent configuration that fills them. One function produces the JSON for both
 * the committed infra/cloudwatch-agent.json (default props) and the stack's `AmazonCloudWatch-reflex-<app>` SSM
 * parameter, so a fleet installs exactly what the stack reads.
 */

/** The log groups Reflex reads, one stream per instance (`{instance_id}`). */
export interface ReflexLogGroupNames {
  /** nginx JSON access log (`log_format reflex`): the metric filter counts gateway errors here. */
  readonly nginxAccess: string;
  readonly nginxError: string;
  /** The app's stdout and stderr as PM2 writes them. */
  readonly pm2App: string;
  /** `$PM2_HOME/pm2.log`: the daemon's own log (exits, restarts, stops). */
  readonly pm2: string;
  /** Kernel log: OOM kills. */
  readonly kernel: string;
  /** The responder Lambda's own log group. */
  readonly responder: string;
  /** The detector Lambda's own log group. */
  readonly detector: string;
  /** The interactivity endpoint's own log group (approve mode's Slack clicks). */
  readonly interact: string;
}

/** Explicit names under `/reflex/<appName>/`, so the agent config and the queries can name them. */
export function logGroupNames(appName: string): ReflexLogGroupNames {
  const prefix = `/reflex/${appName}`;
  return {
    nginxAccess: `${prefix}/nginx-access`,
    nginxError: `${prefix}/nginx-error`,
    pm2App: `${prefix}/pm2-app`,
    pm2: `${prefix}/pm2`,
    kernel: `${prefix}/kernel`,
    responder: `${prefix}/responder`,
    detector: `${prefix}/detector`,
    interact: `${prefix}/interact`,
  };
}

/** Where the files are on an instance. */
export interface AgentConfigOptions {
  readonly appName: string;
  readonly pm2User: string;
  /** @default the PM2 user's ~/.pm2 (`/root/.pm2` for root, else `/home/<user>/.pm2`) */
  readonly pm2Home?: string;
  /** @default '/var/log/nginx/access.json.log' (infra/nginx/reflex.conf) */
  readonly accessLog?: string;
  /** @default '/var/log/nginx/error.log' */
  readonly nginxErrorLog?: string;
  /** Ubuntu and Debian write kernel messages to kern.log; Amazon Linux 2 uses /var/log/messages. @default '/var/log/kern.log' */
  readonly kernelLog?: string;
}

/** Default file locations, shared with the stack's snapshot parameters. */
export const AGENT_DEFAULTS = {
  accessLog: '/var/log/nginx/access.json.log',
  nginxErrorLog: '/var/log/nginx/error.log',
  kernelLog: '/var/log/kern.log',
} as const;

/** The PM2 home the agent reads when none is given. */
export function defaultPm2Home(pm2User: string): string {
  return pm2User === 'root' ? '/root/.pm2' : `/home/${pm2User}/.pm2`;
}

/** PM2's own file name for an app's logs: every character but letters, digits, `.` and `-` becomes `-`. */
export function pm2LogFileStem(appName: string): string {
  return appName.replace(/[^A-Za-z0-9.-]/g, '-');
}

interface CollectEntry {
  readonly file_path: string;
  readonly log_group_name: string;
  readonly log_stream_name: '{instance_id}';
  readonly timezone: 'UTC';
}

/** The agent configuration (logs section only; metrics stay whatever the fleet already collects). */
export interface CloudWatchAgentConfig {
  readonly logs: {
    readonly force_flush_interval: number;
    readonly logs_collected: { readonly files: { readonly collect_list: readonly CollectEntry[] } };
  };
}

/**
 * Seconds a line may wait in the agent's buffer before it is sent (1 MB sends at once): the first term of the
 * detector's latency. 5 is the agent's documented default, pinned here so the detection budget does not move with it.
 */
export const AGENT_FLUSH_SECONDS = 5;

/**
 * The agent configuration for one app. PM2's out and error files are listed by name rather than by a
 * `logs/*.log` glob: with a glob the agent tails only the most recently modified match, and
 * `publish_multi_logs` would rename the streams away from the bare `{instance_id}` the responder queries.
 * PM2 names them `<app>-out.log` and `<app>-error.log` (see {@link pm2LogFileStem}), and `<app>-out-<pm_id>.log` when
 * the ecosystem file sets `instances` (PM2 7 does so for `instances: 1` in fork mode too: `web-out-0.log`), unless it
 * sets `out_file`/`error_file` or `merge_logs: true`. Both namings of the first instance are listed; the agent waits
 * for a file that does not exist yet.
 */
export function cloudWatchAgentConfig(options: AgentConfigOptions): CloudWatchAgentConfig {
  const groups = logGroupNames(options.appName);
  const pm2Home = options.pm2Home ?? defaultPm2Home(options.pm2User);
  const entry = (filePath: string, group: string): CollectEntry => ({
    file_path: filePath,
    log_group_name: group,
    log_stream_name: '{instance_id}',
    timezone: 'UTC',
  });
  return {
    logs: {
      force_flush_interval: AGENT_FLUSH_SECONDS,
      logs_collected: {
        files: {
          collect_list: [
            entry(options.accessLog ?? AGENT_DEFAULTS.accessLog, groups.nginxAccess),
            entry(options.nginxErrorLog ?? AGENT_DEFAULTS.nginxErrorLog, groups.nginxError),
            ...['out', 'out-0', 'error', 'error-0'].map((suffix) => entry(`${pm2Home}/logs/${pm2LogFileStem(options.appName)}-${suffix}.log`, groups.pm2App)),
            entry(`${pm2Home}/pm2.log`, groups.pm2),
            entry(options.kernelLog ?? AGENT_DEFAULTS.kernelLog, groups.kernel),
          ],
        },
      },
    },
  };
}

/** The JSON text as committed in infra/cloudwatch-agent.json and stored in the SSM parameter. */
export function cloudWatchAgentConfigJson(options: AgentConfigOptions): string {
  return `${JSON.stringify(cloudWatchAgentConfig(options), null, 2)}\n`;
}
