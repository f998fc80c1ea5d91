// Loads a page in Debian's chromium, headless, through playwright-core (never a browser
// build of playwright's own), waits until its script marks <pre id="out"> done, and prints
// that element's text. Usage: node browser.mjs URL
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const profile = mkdtempSync(join(tmpdir(), "rmicro-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const console_lines = [];
  page.on("console", (message) => console_lines.push(message.text()));
  await page.goto(process.argv[2]);
  await page.waitForSelector("#out[data-done]", { timeout: 30000 }).catch((error) => {
    throw new Error(`${error.message}\nconsole: ${console_lines.join("\n")}`);
  });
  console.log(await page.textContent("#out"));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
