/**
 * Vitest global setup: builds the e2e Next.js app (or finds it cached) once, before any test file runs, so that
 * e2e files neither race for the build nor spend their hook timeouts on it.
 */
import { nextServer } from './helpers/next-app.ts';

export default async function setup(): Promise<void> {
  await nextServer();
}
