/**
 * Parameter names of the two SSM Command documents, shared by the CDK stack (which declares them with
 * `allowedPattern` and `interpolationType: ENV_VAR`) and the SSM adapter (which fills them).
 * Under SSM each arrives as `$SSM_<Name>`; the document maps it to the host script's `REFLEX_<NAME>`.
 */
import type { HostParams } from '../../core/ports.ts';

/** Document parameter name → the host script variable it feeds → the HostParams field. */
export const SNAPSHOT_PARAMETERS = {
  App: { env: 'REFLEX_APP', field: 'app' },
  Pm2User: { env: 'REFLEX_PM2_USER', field: 'pm2User' },
  Pm2Home: { env: 'REFLEX_PM2_HOME', field: 'pm2Home' },
  HealthUrl: { env: 'REFLEX_HEALTH_URL', field: 'healthUrl' },
  Upstream: { env: 'REFLEX_UPSTREAM', field: 'upstream' },
  NginxConfig: { env: 'REFLEX_NGINX_CONFIG', field: 'nginxConfig' },
  NginxErrorLog: { env: 'REFLEX_NGINX_ERROR_LOG', field: 'nginxErrorLog' },
  KernelLog: { env: 'REFLEX_KERNEL_LOG', field: 'kernelLog' },
  Sections: { env: 'REFLEX_SECTIONS', field: 'sections' },
} as const satisfies Record<string, { env: string; field: keyof HostParams }>;

export const REMEDIATE_PARAMETERS = {
  App: { env: 'REFLEX_APP', field: 'app' },
  Pm2User: { env: 'REFLEX_PM2_USER', field: 'pm2User' },
  Pm2Home: { env: 'REFLEX_PM2_HOME', field: 'pm2Home' },
  Action: { env: 'REFLEX_ACTION', field: 'action' },
  Ecosystem: { env: 'REFLEX_ECOSYSTEM', field: 'ecosystem' },
} as const satisfies Record<string, { env: string; field: keyof HostParams }>;
