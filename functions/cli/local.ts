/**
 * Local mode wiring: the host's files, bash running the host scripts, the system clock.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileLogSource } from '../adapters/local/log-source.ts';
import { LocalHostRunner } from '../adapters/local/host-runner.ts';
import type { Clock, Progress } from '../core/ports.ts';
import type { HostProfile } from '../core/profile.ts';
import type { RespondDeps } from '../core/respond.ts';

export const systemClock: Clock = { now: () => new Date(), sleep: (ms) => sleep(ms) };

export function localDeps(profile: HostProfile, options: { progress?: Progress; env?: NodeJS.ProcessEnv } = {}): RespondDeps {
  return {
    host: new LocalHostRunner({ ...(options.env && { env: options.env }) }),
    logs: new FileLogSource({
      accessLog: profile.nginx.accessLog,
      errorLog: profile.nginx.errorLog,
      pm2Log: join(profile.pm2.home, 'pm2.log'),
      ...(profile.kernelLog && { kernelLog: profile.kernelLog }),
    }),
    clock: systemClock,
    ...(options.progress && { progress: options.progress }),
  };
}
