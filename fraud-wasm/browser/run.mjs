// Serves the browser check (index.html + page.mjs, the web build in fraud-wasm/pkg-web, the shared
// comparisons in fraud-wasm/tests/compare.mjs, the golden fixtures in tests/golden) on a loopback
// port, opens it in headless Chromium, and waits for the page's report. Exits 0 when every check
// passed, 1 otherwise (a failed check, or a page that could not run or report).
//
//   node fraud-wasm/browser/run.mjs [path to chromium]      (run.sh builds pkg-web first)
import { createServer } from "node:http";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const chromium = process.argv[2] || process.env.CHROMIUM || "/usr/bin/chromium";
const TIMEOUT_MS = 120_000;
// Only these folders and files are served.
const SERVED = [
  "fraud-wasm/browser/",
  "fraud-wasm/pkg-web/",
  "fraud-wasm/tests/compare.mjs",
  "tests/golden/",
];
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".mjs": "text/javascript",
  ".js": "text/javascript",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".bin": "application/octet-stream",
};

function serveFile(req, res) {
  const url = new URL(req.url, "http://localhost");
  const rel = decodeURIComponent(url.pathname).replace(/^\/+/, "");
  const file = path.resolve(root, rel);
  const allowed = SERVED.some((d) => file.startsWith(path.join(root, d)));
  if (!allowed || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
  res.end(readFileSync(file));
}

function runPage() {
  return new Promise((resolve, reject) => {
    let browser;
    const profile = mkdtempSync(path.join(tmpdir(), "fraud-wasm-chromium-"));
    let done = false;
    const finish = (err, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      server.close();
      const settle = () => {
        rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
        if (err) reject(err);
        else resolve(value);
      };
      if (browser?.pid !== undefined && browser.exitCode === null && browser.signalCode === null) {
        // Chromium runs in its own process group: end all of its processes, then clean up.
        browser.once("exit", settle);
        try {
          process.kill(-browser.pid, "SIGKILL");
        } catch {
          browser.kill("SIGKILL");
        }
      } else {
        settle();
      }
    };
    const timer = setTimeout(() => finish(new Error(`no report from the page within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
    const server = createServer((req, res) => {
      if (req.method === "POST" && req.url === "/result") {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
          res.writeHead(204).end();
          let parsed;
          try {
            parsed = JSON.parse(body);
          } catch (e) {
            finish(new Error(`the page posted a report that is not JSON: ${e.message}`));
            return;
          }
          finish(null, parsed);
        });
        return;
      }
      serveFile(req, res);
    });
    server.listen(0, "127.0.0.1", () => {
      const url = `http://127.0.0.1:${server.address().port}/fraud-wasm/browser/index.html`;
      const args = [
        "--headless=new",
        "--no-sandbox", // CI runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        `--user-data-dir=${profile}`,
        url,
      ];
      browser = spawn(chromium, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
      let stderr = "";
      browser.stderr.on("data", (c) => (stderr = (stderr + c).slice(-4000)));
      browser.on("error", (e) => finish(new Error(`cannot start ${chromium}: ${e.message}`)));
      browser.on("exit", (code) => {
        if (!done) finish(new Error(`${chromium} exited (${code}) before the page posted its report:\n${stderr}`));
      });
    });
  });
}

let report;
try {
  report = await runPage();
} catch (e) {
  console.error(`browser check failed: ${e.message}`);
  process.exit(1);
}
console.log(`browser: ${report.userAgent}`);
console.log(`browser checks: ${report.checks} run, ${report.failures.length} failed`);
for (const f of report.failures.slice(0, 20)) console.log(`  FAILED: ${f}`);
process.exit(report.failures.length === 0 && report.checks > 0 ? 0 : 1);
