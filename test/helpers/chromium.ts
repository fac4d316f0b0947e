/**
 * Chromium for the browser tests: Debian's `chromium` driven by
 * playwright-core, on a machine without a display, GPU or network.
 */

/** The browser (HERALD_TEST_CHROMIUM, default /usr/bin/chromium); tests skip, saying why, when it is absent. */
export const CHROMIUM = process.env.HERALD_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** The flags docs/monitoring.md documents: headless, and no attempt to reach hosts that are not there. */
export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
