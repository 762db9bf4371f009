/**
 * On a real instance pm2 is installed globally (`npm install -g pm2`), so it is on the PATH the SSM agent gives a
 * script; .ci/run installs it so. Elsewhere it is the repo's devDependency: tests that run the host scripts as the
 * agent does link it into /usr/local/bin when no pm2 is on that PATH yet, as a global install would. The link is left in place (it is what
 * a host has); tests never remove it, so concurrent test files cannot pull it from under each other.
 */
import { existsSync } from 'node:fs';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_PATH } from '../../functions/sandbox/sandbox.ts';


const REPO_PM2 = fileURLToPath(new URL('../../node_modules/pm2/bin/pm2', import.meta.url));

/** Makes sure `pm2` resolves on AGENT_PATH; returns where it is. */
export async function ensurePm2OnAgentPath(): Promise<string> {
  const found = AGENT_PATH.split(':')
    .map((dir) => join(dir, 'pm2'))
    .find((file) => existsSync(file));
  if (found) return found;
  const link = '/usr/local/bin/pm2';
  await symlink(REPO_PM2, link).catch((error: NodeJS.ErrnoException) => {
    // Another test file made it at the same moment.
    if (error.code !== 'EEXIST') throw error;
  });
  return link;
}
