/**
 * Headless Chromium for the page tests (journal report, dashboard), driven by puppeteer-core.
 * `.ci/run` installs Debian's `chromium`; without a browser the tests are skipped with a reason.
 * Each test saves screenshots under one temporary directory, printed once.
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";

const CANDIDATES = [
  Deno.env.get("HQ_TEST_CHROMIUM") ?? "",
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
].filter((path) => path !== "");

/** The browser executable, or null. */
export function chromiumPath(): string | null {
  for (const path of CANDIDATES) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Not there.
    }
  }
  return null;
}

/** Why the browser tests cannot run here, or null when they can. */
export function browserSkipReason(): string | null {
  return chromiumPath() === null
    ? `no Chromium found (tried ${CANDIDATES.join(", ")}); .ci/run installs Debian's chromium`
    : null;
}

let screenshotDir: string | null = null;

/** Where screenshots go (one temporary directory per test process). */
export function screenshotDirectory(): string {
  if (screenshotDir === null) {
    screenshotDir = Deno.makeTempDirSync({ prefix: "hq-screenshots-" });
    console.log(`screenshots: ${screenshotDir}`);
  }
  return screenshotDir;
}

/** Saves a full-page screenshot named after the test; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const path = `${screenshotDirectory()}/${name.replace(/[^A-Za-z0-9_-]+/g, "_")}.png`;
  await page.screenshot({ path: path as `${string}.png`, fullPage: true });
  return path;
}

/** A headless browser; closed with `await using`. */
export async function launchBrowser(): Promise<Browser & AsyncDisposable> {
  const executablePath = chromiumPath();
  if (executablePath === null) throw new Error(browserSkipReason()!);
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
  return Object.assign(browser, {
    [Symbol.asyncDispose]: () => browser.close(),
  });
}

/**
 * A page that may load nothing from the network except what `allow` accepts (e.g. the
 * dashboard's loopback URL); every other request fails and is recorded in `blocked`.
 */
export async function offlinePage(
  browser: Browser,
  allow: (url: string) => boolean = () => false,
): Promise<{ page: Page; blocked: string[]; errors: string[] }> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const blocked: string[] = [];
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.setRequestInterception(true);
  page.on("request", (request) => {
    const url = request.url();
    if (url.startsWith("file:") || url.startsWith("data:") || allow(url)) {
      request.continue();
    } else {
      blocked.push(url);
      request.abort("internetdisconnected");
    }
  });
  return { page, blocked, errors };
}
