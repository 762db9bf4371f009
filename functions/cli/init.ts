/**
 * `reflex init --local [--app NAME] [--pm2-user NAME] [--nginx-config FILE] [--upstream URL] [--out host.json] [--force]`:
 * looks at this box and writes a host profile that `respond` and `watch` accept unchanged. It asks nothing.
 *
 * PM2: the current user's PM2 home and that of every user whose home holds a `.pm2`; the app list from the live
 * daemon (`pm2 jlist`, only when its pid is alive: a PM2 CLI call spawns a daemon when none answers) or from
 * `dump.pm2`. nginx: `nginx -T` (the whole configuration, includes followed). Kernel log: /var/log/kern.log if readable.
 */
import { execFile } from 'node:child_process';
import { access, constants, readFile, stat, writeFile } from 'node:fs/promises';
import { homedir, hostname, userInfo } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { nginxConfigFiles, parseNginxServers } from '../core/evidence/nginx-config.ts';
import { parseProfile } from '../core/profile.ts';
import { InputError, PATTERNS, checkPattern } from '../core/validate.ts';
import { decideProfile, parseDumpApps, parseJlistApps, type BoxFindings, type NginxFindings, type Pm2Home } from './init-profile.ts';
import type { Io } from './io.ts';
import { PASSWD_FILE, readPasswd, type PasswdUser } from './passwd.ts';
import { checkReadable } from './profile-file.ts';

export const INIT_OPTIONS = {
  local: { type: 'boolean' },
  app: { type: 'string' },
  'pm2-user': { type: 'string' },
  'nginx-config': { type: 'string' },
  upstream: { type: 'string' },
  out: { type: 'string' },
  force: { type: 'boolean' },
} as const;

/** Where init looks; the defaults are the real box. Tests point them elsewhere. */
export interface InitEnvironment {
  readonly env: NodeJS.ProcessEnv;
  /** @default '/etc/passwd' */
  readonly passwdFile?: string;
  /** @default '/var/log/kern.log' */
  readonly kernelLog?: string;
}

const KERNEL_LOG = '/var/log/kern.log';
/** Homes that are not homes: system users point there, and `/.pm2` would be nobody's. */
const NOT_HOMES = new Set(['/', '/nonexistent', '/dev/null', '/bin', '/usr/sbin', '/var/empty']);
const COMMAND_TIMEOUT_MS = 30_000;

/** Runs `reflex init`. Exit codes: 0 profile written; 2 bad input or nothing clear to write (one line on stderr). */
export async function initCommand(args: string[], io: Io, box: InitEnvironment = { env: process.env }): Promise<number> {
  const { values } = parseArgs({ args, options: INIT_OPTIONS, strict: true });
  if (values.local !== true) throw new InputError('init: --local is required (init writes a host profile for local mode)', '--local');
  const app = values.app === undefined ? undefined : checkPattern('--app', values.app, PATTERNS.app, 'a PM2 app name');
  const pm2User = values['pm2-user'] === undefined ? undefined : checkPattern('--pm2-user', values['pm2-user'], PATTERNS.pm2User, 'a Unix user name');
  const upstream = values.upstream === undefined ? undefined : checkPattern('--upstream', values.upstream, PATTERNS.url, 'the app\'s own URL, like "http://127.0.0.1:3000"');
  const out = resolve(values.out ?? 'host.json');
  if (values.force !== true && (await exists(out))) throw new InputError(`--out: ${out} exists; pass --force to overwrite it`, '--out');
  const nginxConfig = values['nginx-config'] === undefined ? undefined : resolve(values['nginx-config']);
  if (nginxConfig !== undefined && !(await readableFile(nginxConfig))) throw new InputError(`--nginx-config: cannot read ${nginxConfig}`, '--nginx-config');

  const found = await lookAtTheBox({ ...box, ...(pm2User && { pm2User }), ...(nginxConfig && { nginxConfig }) });
  const decision = decideProfile(found, { ...(app && { app }), ...(pm2User && { pm2User }), ...(upstream && { upstream }) });
  // What respond and watch will do with the file, done now: a profile they would refuse is never written.
  const profile = parseProfile(decision.profile, { pm2Home: join(homedir(), '.pm2') });
  await checkReadable(profile);

  await writeFile(out, `${JSON.stringify(decision.profile, null, 2)}\n`, { flag: values.force === true ? 'w' : 'wx' }).catch((error: NodeJS.ErrnoException) => {
    throw new InputError(`--out: cannot write ${out} (${error.code ?? error.message})`, '--out', { cause: error });
  });
  io.out('reflex init: found on this host');
  const width = Math.max(...decision.fields.map(([field]) => field.length)) + 1;
  for (const [field, value, why] of decision.fields) io.out(`  ${`${field}:`.padEnd(width)} ${value}  (${why})`);
  if (decision.notes.length > 0) io.out('notes:');
  for (const note of decision.notes) io.out(`  ${note}`);
  io.out(`wrote ${out}; try: reflex respond --local ${out} --dry-run`);
  return 0;
}

interface LookOptions extends InitEnvironment {
  readonly pm2User?: string;
  /** An absolute path, checked readable. */
  readonly nginxConfig?: string;
}

/** Everything init needs to know about this box; reads files and runs `nginx -T` (and `pm2 jlist` for live daemons). */
export async function lookAtTheBox(options: LookOptions): Promise<BoxFindings> {
  const [pm2, nginx, kernelLog] = await Promise.all([findPm2Homes(options), readNginx(options), readableFile(options.kernelLog ?? KERNEL_LOG)]);
  const name = hostname();
  const usable = PATTERNS.localInstanceId.test(name);
  return {
    instanceId: usable ? name : 'local-1',
    instanceIdWhy: usable ? 'hostname' : `the hostname ${JSON.stringify(name.slice(0, 40))} is not a usable id`,
    pm2,
    nginx,
    ...(kernelLog && { kernelLog }),
    kernelLogTried: options.kernelLog ?? KERNEL_LOG,
  };
}

/**
 * The PM2 homes on this box with their apps: the current user's (`$PM2_HOME`, else `~/.pm2`), and `~/.pm2` of every
 * user in the passwd file who has one. With `pm2User`, only that user's.
 * @throws InputError when `pm2User` does not exist or has no PM2 home.
 */
export async function findPm2Homes(options: LookOptions): Promise<Pm2Home[]> {
  const passwdFile = options.passwdFile ?? PASSWD_FILE;
  const users = await readPasswd(passwdFile);
  const me = userInfo();
  const wanted = (name: string): boolean => options.pm2User === undefined || options.pm2User === name;
  const candidates: Omit<Pm2Home, 'apps'>[] = [];
  const mine = options.env.PM2_HOME || join(homedir(), '.pm2');
  const mineOwner = await ownerOf(mine, users);
  // A $PM2_HOME that another user owns is that user's PM2: it must run as them (pm2.user).
  if (mineOwner !== undefined) {
    const other = mineOwner.uid !== me.uid ? mineOwner.name : undefined;
    const why = options.env.PM2_HOME ? '$PM2_HOME' : `~/.pm2 of ${me.username}`;
    if (wanted(other ?? me.username)) candidates.push({ home: mine, ...(other && { user: other }), owner: other ?? me.username, why });
  }
  for (const user of users) {
    if (user.uid === me.uid || NOT_HOMES.has(user.home) || !wanted(user.name)) continue;
    const home = join(user.home, '.pm2');
    if (home === mine || !(await isDirectory(home))) continue;
    candidates.push({ home, user: user.name, owner: user.name, why: `home of ${user.name} in ${passwdFile}` });
  }
  if (options.pm2User !== undefined && candidates.length === 0) throw noPm2HomeFor(options.pm2User, users, passwdFile);
  return Promise.all(candidates.map((candidate) => listApps(candidate, options.env)));
}

/** Who owns a directory (by uid, named from the passwd file); undefined when it is not a directory. */
async function ownerOf(path: string, users: PasswdUser[]): Promise<{ uid: number; name: string } | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isDirectory()) return undefined;
  return { uid: info.uid, name: users.find((user) => user.uid === info.uid)?.name ?? String(info.uid) };
}

function noPm2HomeFor(name: string, users: PasswdUser[], passwdFile: string): InputError {
  const user = users.find((entry) => entry.name === name);
  if (!user) return new InputError(`--pm2-user: no user "${name}" in ${passwdFile}`, '--pm2-user');
  return new InputError(`--pm2-user: ${name} has no PM2 home (${join(user.home, '.pm2')} is not a directory)`, '--pm2-user');
}

/** The apps of one PM2 home: from the live daemon when its pid is alive, else from `dump.pm2`. */
async function listApps(candidate: Omit<Pm2Home, 'apps'>, env: NodeJS.ProcessEnv): Promise<Pm2Home> {
  const dumpPath = join(candidate.home, 'dump.pm2');
  const saved = await readFile(dumpPath, 'utf8').then(parseDumpApps, () => undefined);
  const savedNames = saved && { saved: saved.map((app) => app.name) };
  const pid = await daemonPid(candidate.home);
  const whose = candidate.user ? `user ${candidate.user}` : candidate.owner;
  if (pid !== undefined) {
    const live = parseJlistApps(await jlist(candidate, env));
    if (live) return { ...candidate, apps: live, listedBy: `pm2 jlist of ${whose}, daemon pid ${pid}`, ...savedNames };
  }
  if (saved) return { ...candidate, apps: saved, listedBy: `pm2 dump of ${whose}: ${dumpPath}`, ...savedNames };
  return { ...candidate, apps: [] };
}

/** The pid in `<home>/pm2.pid` when that process is alive (EPERM: alive, another user's). */
async function daemonPid(home: string): Promise<number | undefined> {
  const text = await readFile(join(home, 'pm2.pid'), 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/**
 * `pm2 jlist` against a live daemon, as its user when that is not us, from its home (a directory that user can
 * enter; PM2 fails to spawn from one it cannot). Empty text when pm2 is not found or fails.
 */
async function jlist(candidate: Omit<Pm2Home, 'apps'>, env: NodeJS.ProcessEnv): Promise<string> {
  const pm2 = await onPath('pm2', env.PATH);
  if (!pm2) return '';
  const command = candidate.user
    ? { file: 'runuser', args: ['-u', candidate.user, '--', 'env', `PM2_HOME=${candidate.home}`, pm2, 'jlist'] }
    : { file: pm2, args: ['jlist'] };
  const result = await run(command.file, command.args, { env: { ...env, PM2_HOME: candidate.home }, cwd: candidate.home });
  return result.code === 0 ? result.stdout : '';
}

/** `nginx -T` (with `-c FILE` when given): the servers and their logs, and which configuration it read. */
async function readNginx(options: LookOptions): Promise<NginxFindings> {
  const given = options.nginxConfig;
  const nginx = (await onPath('nginx', options.env.PATH)) ?? (await readableFile('/usr/sbin/nginx'));
  if (!nginx) throw new InputError('nginx: not found on PATH or in /usr/sbin; install nginx, or run init where nginx runs', 'nginx');
  const result = await run(nginx, ['-T', ...(given ? ['-c', given] : [])], { env: options.env });
  if (result.code !== 0) {
    const reason = result.stderr.split('\n').find((line) => /\[(emerg|alert|crit)\]|failed/.test(line)) ?? `exit ${result.code}`;
    throw new InputError(`nginx: nginx -T${given ? ` -c ${given}` : ''} failed: ${reason.trim().slice(0, 300)}`, 'nginx');
  }
  const config = given ?? nginxConfigFiles(result.stdout)[0];
  return {
    ...(config && { config }),
    configWhy: given ? '--nginx-config' : 'nginx -T: its main configuration file',
    servers: parseNginxServers(result.stdout),
  };
}

async function onPath(name: string, path: string | undefined): Promise<string | undefined> {
  for (const dir of (path ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, name);
    if (await access(file, constants.X_OK).then(() => true, () => false)) return file;
  }
  return undefined;
}

async function readableFile(file: string): Promise<string | undefined> {
  return access(file, constants.R_OK).then(() => file, () => undefined);
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((info) => info.isDirectory(), () => false);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string }): Promise<RunResult> {
  return new Promise((done) => {
    execFile(file, args, { ...options, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}
