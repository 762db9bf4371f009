/**
 * The passwd database: who the users are and where their homes are. PM2 keeps its state under its user's home,
 * so both the profile loader (default `pm2.home` of `pm2.user`) and `reflex init` (which users run PM2) need it.
 */
import { readFile } from 'node:fs/promises';

/** The system's passwd file. */
export const PASSWD_FILE = '/etc/passwd';

export interface PasswdUser {
  readonly name: string;
  readonly uid: number;
  readonly home: string;
}

/** `name:x:uid:gid:gecos:home:shell` lines; malformed lines and comments are left out. */
export function parsePasswd(text: string): PasswdUser[] {
  const users: PasswdUser[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields.length < 7 || line.startsWith('#')) continue;
    const [name = '', , uid = '', , , home = ''] = fields;
    if (name === '' || !/^\d+$/.test(uid) || !home.startsWith('/')) continue;
    users.push({ name, uid: Number(uid), home });
  }
  return users;
}

/** Reads and parses a passwd file; an unreadable one is an empty database (the caller says what it then lacks). */
export async function readPasswd(file: string = PASSWD_FILE): Promise<PasswdUser[]> {
  try {
    return parsePasswd(await readFile(file, 'utf8'));
  } catch {
    return [];
  }
}
