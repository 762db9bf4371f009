/**
 * Reads and checks a host profile file: everything that can be wrong with it is found here,
 * before anything runs on the host.
 */
import { access, constants, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseProfile, type HostProfile } from '../core/profile.ts';
import { InputError } from '../core/validate.ts';
import { PASSWD_FILE, readPasswd } from './passwd.ts';

export interface LoadProfileOptions {
  /** Where users' homes are looked up (default `pm2.home` of `pm2.user`). @default '/etc/passwd' */
  readonly passwdFile?: string;
}

/**
 * Loads `host.json`, validates it and checks that the files it names can be read. It never reads nginx's
 * configuration: on Debian's layout the proxy is in an included file, and every snapshot works out the upstream from
 * `nginx -T` itself when the profile has none.
 * @throws InputError naming the field or file that is wrong.
 */
export async function loadProfile(path: string, env: NodeJS.ProcessEnv = process.env, options: LoadProfileOptions = {}): Promise<HostProfile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InputError(`${path}: cannot read the host profile (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'profile');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputError(`${path}: not valid JSON (${(error as Error).message})`, 'profile');
  }
  const passwdFile = options.passwdFile ?? PASSWD_FILE;
  const users = await readPasswd(passwdFile);
  const profile = parseProfile(json, {
    pm2Home: env.PM2_HOME || join(homedir(), '.pm2'),
    homeOf: (user) => users.find((entry) => entry.name === user)?.home,
    userDatabase: passwdFile,
  });

  await checkReadable(profile);
  return profile;
}

/**
 * Checks that every file the profile names can be read: `respond` must find out before anything runs.
 * @throws InputError naming the first field whose file cannot be read.
 */
export async function checkReadable(profile: HostProfile): Promise<void> {
  const files: [string, string | undefined][] = [
    ['nginx.accessLog', profile.nginx.accessLog],
    ['nginx.errorLog', profile.nginx.errorLog],
    ['nginx.config', profile.nginx.config],
    ['kernelLog', profile.kernelLog],
    ['pm2.ecosystem', profile.pm2.ecosystem],
  ];
  for (const [field, file] of files) {
    if (file === undefined) continue;
    try {
      await access(file, constants.R_OK);
    } catch {
      throw new InputError(`${field}: cannot read ${file}`, field);
    }
  }
}
