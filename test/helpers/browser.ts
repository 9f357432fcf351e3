/** Debian's Chromium driven by playwright-core, as every browser test here starts it. */
export const CHROMIUM = process.env.NHS_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** A headless Chromium with its own profile in `profileDir`; `options` adds viewport, downloads… */
export async function launchChromium(profileDir: string, options: Record<string, unknown> = {}): Promise<any> {
  const { chromium } = await import('playwright-core');
  return chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: ARGS, ...options });
}
