import { bundleStandin } from '../hermes/bundle.js';

/** vitest globalSetup: the `hermes` stand-in bundled once per run, before any test runs it (test/hermes/bundle.ts). */
export default async function setup(): Promise<void> {
  await bundleStandin();
}
