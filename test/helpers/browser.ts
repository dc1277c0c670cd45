// A real Chromium for the status page tests and bench (Debian's package, driven by playwright-core). A missing
// browser fails with what to install, never a skip. Console errors and uncaught page errors are collected per
// page, and screenshots go to test-artifacts/ (gitignored) at the two sizes operators use: a laptop and a phone.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from './tmp.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts', 'status-page');
export const SIZES = [
  { name: 'laptop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: the status page is tested in a real Chromium ` +
        '(Debian: apt-get install -y --no-install-recommends chromium)',
    );
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

export interface PageProblems {
  /** console.error lines and uncaught exceptions, with where they came from. */
  errors: string[];
}

/** Collect everything the page reports as an error (console errors, uncaught exceptions, failed loads). */
export function watchProblems(page: Page): PageProblems {
  const p: PageProblems = { errors: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') p.errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => p.errors.push(`uncaught: ${e.message}`));
  return p;
}

/** Screenshots of the page as it is now at both sizes: test-artifacts/status-page/<name>-<size>.png. */
export async function screenshots(page: Page, name: string): Promise<string[]> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const original = page.viewportSize();
  const files: string[] = [];
  for (const s of SIZES) {
    await page.setViewportSize({ width: s.width, height: s.height });
    // Let the layout settle at the new size (two frames).
    await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
    const file = path.join(ARTIFACTS, `${name}-${s.width}x${s.height}.png`);
    await page.screenshot({ path: file });
    files.push(file);
  }
  if (original) await page.setViewportSize(original);
  return files;
}
