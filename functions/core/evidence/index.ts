/** The evidence parsers: raw log lines and snapshot text in, typed evidence out. Pure. */
export { SnapshotParseError } from './errors.ts';
export { toIsoFromCommonLog, toIsoFromEpochMs, toIsoFromNginx, toIsoFromSyslog, toIsoUtc, toMinute } from './time.ts';
export { countGatewayErrors, isGatewayError, parseAccessLine, parseAccessLog } from './access-log.ts';
export { MAX_TEXT, parseErrorLog } from './error-log.ts';
export { parsePm2List, parsePm2Log, type Pm2ListResult } from './pm2.ts';
export { parseKernelLog } from './kernel.ts';
export { findAppError, kindOf, parseAppLines, parseAppLogSection, type AppErrorFinding } from './app-log.ts';
export { parseListeners } from './listeners.ts';
export { parseProbe } from './probe.ts';
export { parseProxyConfig, parseUpstreamUrl } from './nginx-config.ts';
export { parseSnapshot } from './snapshot.ts';
export { parseVerifyLines, type HostVerdict, type HostVerification } from './verify-lines.ts';
export { MAX_ENTRIES, buildEvidence, type EvidenceInput } from './evidence.ts';
