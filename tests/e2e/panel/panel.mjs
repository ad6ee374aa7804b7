// Drives the real panel in Debian's Chromium against `smsgate serve --sim 2` (started by ../panel.sh).
// Env: BASE (https://127.0.0.1:PORT), ADMIN_PASSWORD, SCREENSHOTS (directory), CHROMIUM (binary).
import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import assert from "node:assert/strict";

const BASE = process.env.BASE;
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD;
const SHOTS = process.env.SCREENSHOTS ?? "target/screenshots";
const PASSWORD = "panel-e2e-Password-1";
mkdirSync(SHOTS, { recursive: true });

// launch() gives every run a fresh temporary profile (user-data-dir) of its own.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

// The downloaded PKCS#12 (it holds a private key) lives here and is removed at the end.
const P12_DIR = mkdtempSync(join(tmpdir(), "smsgate-p12-"));
let passed = 0;
async function step(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    console.log(`FAIL ${name}`);
    throw e;
  }
}

async function session(login, password, clientCertificates) {
  // The appliance's own CA signs the certificate; this test checks the panel, not the trust store.
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, viewport: { width: 1280, height: 860 },
    ...(clientCertificates ? { clientCertificates } : {}),
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  await page.goto(`${BASE}/panel/login`);
  await page.getByLabel("Login").fill(login);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  return { context, page };
}

// Polls in node (the panel's CSP forbids the eval that page.waitForFunction would need).
async function until(what, fn, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function page_once_accept(page) {
  page.once("dialog", (d) => d.accept());
}

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

try {
  let admin;
  await step("a wrong password is refused with a message", async () => {
    const { context, page } = await session("admin", "not-the-password");
    await page.getByText("Wrong login or password.").waitFor();
    assert.match(page.url(), /\/panel\/login$/);
    await context.close();
  });

  await step("admin logs in and creates a client, a second client and a technician", async () => {
    admin = await session("admin", ADMIN_PASSWORD);
    const page = admin.page;
    await page.waitForURL(/\/panel\/dashboard$/);
    const cookies = await admin.context.cookies();
    const sid = cookies.find((c) => c.name === "__Host-smsgate_session");
    assert.ok(sid, "session cookie set");
    assert.equal(sid.secure, true);
    assert.equal(sid.httpOnly, true);
    assert.equal(sid.sameSite, "Strict");
    await page.goto(`${BASE}/panel/accounts`);
    for (const [login, role] of [["acme", "client"], ["globex", "client"], ["tech", "technician"]]) {
      await page.locator("#acc-login").fill(login);
      await page.locator("#acc-password").fill(PASSWORD);
      await page.locator("#acc-role").selectOption(role);
      await page.getByRole("button", { name: "Create account" }).click();
      await page.getByText("Account created.").waitFor();
    }
    assert.equal(await page.locator("#accounts tbody tr").count(), 4);
    await shot(page, "accounts");
  });

  let tech;
  await step("a technician sees both simulated modems come up in the live modem list", async () => {
    tech = await session("tech", PASSWORD);
    const page = tech.page;
    await page.goto(`${BASE}/panel/modems`);
    await until("two modems up", async () => (await page.locator("#modem-rows tr.up").count()) >= 2);
    const imei = await page.locator("#modem-rows tr").first().locator("td").nth(4).textContent();
    assert.match(imei.trim(), /^\d{15}$/);
    await shot(page, "modems");
  });

  let acme, messageUrl;
  await step("the live counter matches the encoder for Polish, emoji and long text", async () => {
    acme = await session("acme", PASSWORD);
    const page = acme.page;
    await page.goto(`${BASE}/panel/send`);
    const counter = page.locator("#counter");
    const check = async (text, expect) => {
      await page.locator("#text").fill(text);
      await assert.doesNotReject(counter.filter({ hasText: expect }).waitFor());
    };
    await check("Hello", "GSM-7 · 5 characters · 1 parts · 155 left in this part");
    await check("Zażółć gęślą jaźń", "UCS-2 · 17 characters · 1 parts · 53 left in this part");
    await check("Cześć 😀", "UCS-2 · 7 characters · 1 parts · 62 left in this part");
    await check("a".repeat(161), "GSM-7 · 161 characters · 2 parts · 145 left in this part");
    await check("ż".repeat(71), "UCS-2 · 71 characters · 2 parts · 63 left in this part");
  });

  await step("a client sends an SMS and sees it sent, then delivered", async () => {
    const page = acme.page;
    await page.locator("#recipients").fill("+48600100200");
    await page.locator("#text").fill("Zażółć gęślą jaźń 😀 z panelu");
    await page.locator("#counter").filter({ hasText: "UCS-2 · 28 characters · 1 parts" }).waitFor();
    await shot(page, "send");
    await page.getByRole("button", { name: "Send", exact: true }).click();
    await page.waitForURL(/\/panel\/messages\/[^/?]+\?sent=1$/);
    messageUrl = page.url().replace(/\?sent=1$/, "");
    for (let i = 0; i < 60; i++) {
      const status = (await page.locator("#message-status").textContent()).trim();
      if (status === "delivered") break;
      await page.waitForTimeout(500);
      await page.reload();
    }
    assert.equal((await page.locator("#message-status").textContent()).trim(), "delivered");
    await page.locator("table tbody tr").first().filter({ hasText: "delivered" }).waitFor();
    await shot(page, "message");
    await page.goto(`${BASE}/panel/messages`);
    await page.locator("table tbody tr").filter({ hasText: "+48600100200" }).first().waitFor();
    await page.goto(`${BASE}/panel/dashboard`);
    assert.equal((await page.locator("#sent-today").textContent()).trim(), "1");
    await shot(page, "dashboard");
  });

  await step("a POST without the CSRF token is refused (403) and sends nothing", async () => {
    const r = await acme.context.request.post(`${BASE}/panel/send`, {
      form: { recipients: "+48600100201", text: "forged" },
      maxRedirects: 0,
    });
    assert.equal(r.status(), 403);
    const wrong = await acme.context.request.post(`${BASE}/panel/send`, {
      form: { recipients: "+48600100201", text: "forged", csrf: "guessed" },
      maxRedirects: 0,
    });
    assert.equal(wrong.status(), 403);
    await acme.page.goto(`${BASE}/panel/messages?recipient=%2B48600100201`);
    await acme.page.getByText("No messages.").waitFor();
  });

  await step("a client creates an API token, sees it once, and it works on the REST API", async () => {
    const page = acme.page;
    await page.goto(`${BASE}/panel/tokens`);
    await page.locator("#tok-name").fill("crm");
    await page.getByRole("button", { name: "Create token" }).click();
    const token = (await page.locator("#new-token").textContent()).trim();
    assert.match(token, /^smsg_/);
    const me = await acme.context.request.get(`${BASE}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(me.status(), 200);
    assert.equal((await me.json()).login, "acme");
    await page.goto(`${BASE}/panel/tokens`);
    assert.equal(await page.locator("#new-token").count(), 0, "shown only once");
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "Revoke" }).click();
    await page.locator("#tokens").getByText("revoked").waitFor();
    const after = await acme.context.request.get(`${BASE}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(after.status(), 401);
  });

  await step("a client adds a webhook (secret shown once) and deletes it", async () => {
    const page = acme.page;
    await page.goto(`${BASE}/panel/webhooks`);
    await page.locator("#wh-url").fill("https://127.0.0.1:9/hook");
    await page.getByRole("button", { name: "Add webhook" }).click();
    assert.match((await page.locator("#new-secret").textContent()).trim(), /^whsec_/);
    await page.locator("#webhooks").getByText("https://127.0.0.1:9/hook").waitFor();
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "Delete" }).click();
    await page.waitForURL(/\/panel\/webhooks$/);
    assert.equal(await page.locator("#webhooks").count(), 0);
  });

  await step("a reload after creating a token does not create another one", async () => {
    const page = acme.page;
    await page.goto(`${BASE}/panel/tokens`);
    const before = await page.locator("#tokens tbody tr").count();
    await page.locator("#tok-name").fill("reload-check");
    await page.getByRole("button", { name: "Create token" }).click();
    await page.locator("#new-token").waitFor();
    assert.match(page.url(), /\/panel\/tokens$/, "post/redirect/get");
    await page.reload();
    assert.equal(await page.locator("#tokens tbody tr").count(), before + 1);
    assert.equal(await page.locator("#new-token").count(), 0, "the secret is not shown again");
  });

  await step("CSV upload: the preview lists refused rows, nothing is sent before the confirmation", async () => {
    const page = acme.page;
    await page.goto(`${BASE}/panel/send`);
    const csv = "Imię;Telefon;Treść\nJan;600 100 300;\nOla;+48600100301;Cześć Ola 😀\nZły;12ab;\n";
    await page.locator("#csv-file").setInputFiles({ name: "klienci.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
    await page.locator("#csv-text").fill("Promocja z pliku CSV");
    await page.getByRole("button", { name: "Upload and preview" }).click();
    await page.waitForURL(/\/panel\/send\/csv$/);
    assert.equal((await page.locator("#csv-valid").textContent()).trim(), "2");
    assert.equal((await page.locator("#csv-invalid").textContent()).trim(), "1");
    assert.equal((await page.locator("#csv-recipient-column").textContent()).trim(), "Telefon");
    await page.locator("#csv-refused tr").filter({ hasText: "12ab" }).waitFor();
    await page.locator("#csv-rows tr").filter({ hasText: "Cześć Ola 😀" }).waitFor();
    await shot(page, "send-csv-preview");
    await page.goto(`${BASE}/panel/messages?recipient=%2B48600100300`);
    await page.getByText("No messages.").waitFor();
    await page.goto(`${BASE}/panel/send/csv`);
    page.once("dialog", (d) => d.accept());
    await page.locator("#csv-send").click();
    await page.waitForURL(/\/panel\/messages\?sent=2$/);
    await page.locator("table tbody tr").filter({ hasText: "+48600100300" }).first().waitFor();
    await page.locator("table tbody tr").filter({ hasText: "+48600100301" }).first().waitFor();
    // The upload is gone: its preview leads back to the send page.
    await page.goto(`${BASE}/panel/send/csv`);
    assert.match(page.url(), /\/panel\/send$/);
  });

  await step("IP pool editor: errors per line, a lockout warning, then a saved pool", async () => {
    const page = acme.page;
    await page.goto(`${BASE}/panel/ip-pool`);
    const address = (await page.locator("#client-address").textContent()).trim();
    assert.equal(address, "127.0.0.1");
    const save = async (entries) => {
      await page.locator("#ip-pool").fill(entries);
      page.once("dialog", (d) => d.accept());
      await page.locator("#pool-form button[type=submit]").click();
      await page.waitForLoadState();
    };
    await save("127.0.0.0/8\nnot-an-address\n10.0.0.0/33");
    await page.locator("#pool-errors li").filter({ hasText: "Line 2" }).waitFor();
    await page.locator("#pool-errors li").filter({ hasText: "Line 3" }).waitFor();
    await save("192.0.2.0/24");
    await page.locator("#pool-save-anyway").waitFor();
    await page.getByText("does not contain your current address").waitFor();
    await shot(page, "ip-pool-lockout");
    await page.goto(`${BASE}/panel/ip-pool`);
    assert.equal((await page.locator("#ip-pool").inputValue()).trim(), "", "nothing saved yet");
    await save("127.0.0.0/8 # this office\n::1");
    await page.getByText("IP pool saved.").waitFor();
    assert.equal((await page.locator("#ip-pool").inputValue()).trim(), "127.0.0.0/8\n::1/128");
    await shot(page, "ip-pool");
  });

  let p12Path;
  const P12_PASSWORD = "p12-e2e-Password";
  await step("a client requests a certificate and downloads it once as PKCS#12", async () => {
    const page = admin.page;
    await page.goto(`${BASE}/panel/accounts`);
    await page.locator("#acc-login").fill("initech");
    await page.locator("#acc-password").fill(PASSWORD);
    await page.locator("#acc-role").selectOption("client");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByText("Account created.").waitFor();
    const initech = await session("initech", PASSWORD);
    const p = initech.page;
    await p.waitForURL(/\/panel\/dashboard$/);
    await p.goto(`${BASE}/panel/certs`);
    await p.getByText("No certificates yet.").waitFor();
    await p.locator("#cert-days").fill("30");
    await p.locator("#p12-password").fill(P12_PASSWORD);
    await p.locator("#p12-password-again").fill(P12_PASSWORD);
    await p.getByRole("button", { name: "Issue certificate" }).click();
    await p.getByText("Certificate issued.").waitFor();
    await p.locator("#certs tbody tr").filter({ hasText: "CN=initech" }).waitFor();
    await shot(p, "certs");
    const [download] = await Promise.all([p.waitForEvent("download"), p.locator("#p12-download").click()]);
    assert.match(download.suggestedFilename(), /^smsgate-initech\.p12$/);
    p12Path = join(P12_DIR, "initech.p12");
    await download.saveAs(p12Path);
    assert.ok(statSync(p12Path).size > 500, "a PKCS#12 file");
    await p.goto(`${BASE}/panel/certs`);
    assert.equal(await p.locator("#p12-download").count(), 0, "downloadable once");
    await initech.context.close();
  });

  await step("the certificate-required account cannot log in without its certificate and can with it", async () => {
    // The admin requires the certificate from the accounts page.
    const page = admin.page;
    await page.goto(`${BASE}/panel/accounts`);
    await page.locator("#accounts tr").filter({ hasText: "initech" }).getByRole("link", { name: "Certificates" }).click();
    await page.locator("#target-login").filter({ hasText: "initech" }).waitFor();
    page_once_accept(page);
    await page.getByRole("button", { name: "Require a certificate" }).click();
    await page.getByText("Certificate requirement saved.").waitFor();
    assert.equal((await page.locator("#cert-required").textContent()).trim(), "yes");
    const without = await session("initech", PASSWORD);
    await without.page.getByText("Wrong login or password.").waitFor();
    assert.match(without.page.url(), /\/panel\/login$/);
    await without.context.close();
    const withCert = await session("initech", PASSWORD, [{ origin: BASE, pfxPath: p12Path, passphrase: P12_PASSWORD }]);
    await withCert.page.waitForURL(/\/panel\/dashboard$/);
    await withCert.page.goto(`${BASE}/panel/certs`);
    assert.equal((await withCert.page.locator("#cert-required").textContent()).trim(), "yes");
    await withCert.page.locator("#certs tr.in-use").getByText("in use by this connection").waitFor();
    await shot(withCert.page, "certs-in-use");
    // Revoking the certificate in use asks again, then ends the session.
    page_once_accept(withCert.page);
    await withCert.page.locator("#certs tr.in-use").getByRole("button", { name: "Revoke" }).click();
    await withCert.page.locator("#lockout-confirm").waitFor();
    await withCert.page.getByRole("button", { name: "Revoke anyway" }).click();
    await withCert.page.waitForURL(/\/panel\/login\?expired=1$/);
    await withCert.context.close();
  });

  await step("an SMS injected into a simulated modem shows in the client's inbox and conversation", async () => {
    const page = tech.page;
    await page.locator("#sim-modem").selectOption("0");
    await page.locator("#sim-from").fill("+48600100200");
    await page.locator("#sim-text").fill("Odpowiedź: dziękuję 😀");
    await page.getByRole("button", { name: "Deliver", exact: true }).click();
    await page.getByText("Delivered to the simulated modem.").waitFor();
    const inbox = acme.page;
    for (let i = 0; i < 60; i++) {
      await inbox.goto(`${BASE}/panel/inbox`);
      if (await inbox.getByText("Odpowiedź: dziękuję 😀").count()) break;
      await inbox.waitForTimeout(500);
    }
    await inbox.getByText("Odpowiedź: dziękuję 😀").waitFor();
    await inbox.getByRole("link", { name: "+48600100200" }).first().click();
    await inbox.locator(".conversation li.out").first().waitFor();
    await inbox.locator(".conversation li.in").filter({ hasText: "dziękuję" }).waitFor();
    await shot(inbox, "inbox");
  });

  await step("another client cannot open the first client's message page", async () => {
    const globex = await session("globex", PASSWORD);
    const r = await globex.page.goto(messageUrl);
    assert.equal(r.status(), 404);
    assert.equal(await globex.page.getByText("z panelu").count(), 0);
    await globex.context.close();
  });

  await step("a client does not get the modem bank", async () => {
    const r = await acme.page.goto(`${BASE}/panel/modems`);
    assert.equal(r.status(), 403);
  });

  await step("a technician reads the system health page", async () => {
    const page = tech.page;
    await page.goto(`${BASE}/panel/system`);
    await page.getByRole("heading", { name: "System health" }).waitFor();
    await page.locator("#readiness").getByText("Ready to send").waitFor();
    assert.equal((await page.locator("#sys-modems").textContent()).trim(), "2 / 2");
    assert.match((await page.locator("#sys-version").textContent()).trim(), /^\d+\.\d+\.\d+/);
    assert.match((await page.locator("#sys-database").textContent()).trim(), /^\d+(\.\d)? (B|KiB|MiB)/);
    assert.match((await page.locator("#sys-certificate").textContent()).trim(), /^\d{4}-\d{2}-\d{2} .* days left\)$/);
    assert.match((await page.locator("#sys-disk").textContent()).trim(), /iB \/ .*iB$/);
    await page.locator("#sys-backup").getByText("No backup yet").waitFor();
    await shot(page, "system");
  });

  await step("routing rules: refused when invalid, previewed, confirmed, applied to the next message, audited", async () => {
    const page = tech.page;
    await page.goto(`${BASE}/panel/routing`);
    // The config file's rule is listed read-only.
    await page.locator('#routing-rules tr[data-source="config"]').filter({ hasText: "+44" }).waitFor();
    const staleRevision = await page.locator('#routing-form input[name="revision"]').getAttribute("value");
    const csrf = await page.locator('#routing-form input[name="csrf"]').getAttribute("value");
    await page.locator("#routing-text").fill("+4860 nowhere");
    await page.getByRole("button", { name: "Check and preview" }).click();
    await page.getByRole("alert").filter({ hasText: "unknown modem group" }).waitFor();
    assert.equal(await page.locator("#routing-text").inputValue(), "+4860 nowhere", "the edit is kept");
    await page.locator("#routing-text").fill("+48 default\n+4860 default");
    await page.getByRole("button", { name: "Check and preview" }).click();
    await page.getByRole("alert").filter({ hasText: "can never match" }).waitFor();
    await page.locator("#routing-text").fill("+4860 default\n+4861 default");
    await page.getByRole("button", { name: "Check and preview" }).click();
    await page.getByRole("heading", { name: "Apply these routing rules?" }).waitFor();
    assert.equal(await page.locator("#rules-after li").count(), 2);
    assert.equal(await page.locator("#rules-before li").count(), 0);
    await shot(page, "routing-confirm");
    await page.getByRole("button", { name: "Apply the new rules" }).click();
    await page.getByText("Routing rules applied.").waitFor();
    assert.equal(await page.locator('#routing-rules tr[data-source="panel"]').count(), 2);
    await shot(page, "routing");
    // A save without the confirmation button, or from an editor opened before the change, saves nothing.
    const unconfirmed = await tech.context.request.post(`${BASE}/panel/routing`, {
      form: { csrf, revision: staleRevision, rules: "" }, maxRedirects: 0,
    });
    assert.equal(unconfirmed.status(), 422);
    const stale = await tech.context.request.post(`${BASE}/panel/routing`, {
      form: { csrf, revision: staleRevision, rules: "", confirm: "yes" }, maxRedirects: 0,
    });
    assert.equal(stale.status(), 409);
    await page.reload();
    assert.equal(await page.locator('#routing-rules tr[data-source="panel"]').count(), 2);
    // The next message to a matching number takes the rule's group; other numbers stay unrouted.
    const auth = { Authorization: "Basic " + Buffer.from(`acme:${PASSWORD}`).toString("base64") };
    const routed = await acme.context.request.post(`${BASE}/api/v1/messages`, {
      headers: auth, data: { to: "+48601234567", text: "routed by the panel rule" },
    });
    assert.equal(routed.status(), 202);
    assert.equal((await routed.json()).messages[0].group, "default");
    const unrouted = await acme.context.request.post(`${BASE}/api/v1/messages`, {
      headers: auth, data: { to: "+48501234567", text: "no rule" },
    });
    assert.equal((await unrouted.json()).messages[0].group, null);
    await admin.page.goto(`${BASE}/panel/audit`);
    await admin.page.locator("#audit tr").filter({ hasText: "routing.changed" }).filter({ hasText: "+4860 default" }).first().waitFor();
  });

  await step("a client gets neither the system page nor the routing rules", async () => {
    for (const path of ["/panel/system", "/panel/routing"]) {
      const r = await acme.page.goto(`${BASE}${path}`);
      assert.equal(r.status(), 403, path);
    }
  });

  await step("the panel speaks Polish", async () => {
    const page = acme.page;
    await page.goto(`${BASE}/panel/send`);
    await page.getByRole("link", { name: "PL", exact: true }).click();
    await page.getByRole("heading", { name: "Wyślij SMS" }).waitFor();
    await page.locator("#text").fill("Zażółć");
    await page.locator("#counter").filter({ hasText: "UCS-2 · 6 znaków · 1 części" }).waitFor();
    assert.equal(await page.locator("html").getAttribute("lang"), "pl");
    await shot(page, "send-pl");
    await page.getByRole("link", { name: "EN", exact: true }).click();
    await page.getByRole("heading", { name: "Send SMS" }).waitFor();
  });

  await step("logout ends the session", async () => {
    const page = acme.page;
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByText("You have been logged out.").waitFor();
    await page.goto(messageUrl);
    assert.match(page.url(), /\/panel\/login\?expired=1$/);
  });

  await step("deletion request: explained, confirmed, the account is gone and cannot log in", async () => {
    const globex = await session("globex", PASSWORD);
    const page = globex.page;
    await page.goto(`${BASE}/panel/account`);
    await page.getByText("kept", { exact: false }).or(page.getByText("Encrypted backups", { exact: false })).first().waitFor();
    await page.locator("#confirm-login").fill("globex");
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "Delete everything now" }).click();
    await page.getByText("Your account and data were deleted.").waitFor();
    await page.getByLabel("Login").fill("globex");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByText("Wrong login or password.").waitFor();
    await globex.context.close();
  });

  await step("a technician sees a simulated modem go down when unplugged and come back when replugged", async () => {
    const page = tech.page;
    await page.goto(`${BASE}/panel/modems`);
    await page.locator("#plug-modem").selectOption("1");
    await page.getByRole("button", { name: "Unplug", exact: true }).click();
    await until("a modem down", async () => (await page.locator("#modem-rows tr.down").count()) >= 1);
    await shot(page, "modems-down");
    await page.locator("#plug-modem").selectOption("1");
    await page.getByRole("button", { name: "Replug", exact: true }).click();
    await until("both modems up again", async () =>
      (await page.locator("#modem-rows tr.up").count()) >= 2 && (await page.locator("#modem-rows tr.down").count()) === 0, 90000);
  });

  let modemUrl;
  await step("a technician opens a modem's page from the bank and runs a USSD code", async () => {
    const page = tech.page;
    await page.goto(`${BASE}/panel/modems`);
    await until("both modems up", async () => (await page.locator("#modem-rows tr.up").count()) >= 2, 90000);
    await page.locator("#modem-rows tr.up a").first().click();
    await page.waitForURL(/\/panel\/modems\/\d{15}$/);
    modemUrl = page.url();
    assert.equal((await page.locator("#modem-phase").textContent()).trim(), "ready");
    await page.locator("#ussd-code").fill("*100#");
    await page.getByRole("button", { name: "Run USSD" }).click();
    await page.locator("#ussd-result").filter({ hasText: "balance" }).waitFor();
    await shot(page, "modem");
  });

  await step("a technician saves modem settings and queues a test SMS through the modem", async () => {
    const page = tech.page;
    await page.goto(modemUrl);
    await page.locator("#set-per-minute").fill("30");
    await page.locator("#set-smsc").fill("+48601000310");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("Settings saved and applied.").waitFor();
    assert.equal(await page.locator("#set-per-minute").inputValue(), "30");
    await page.locator("#test-to").fill("+48600100209");
    await page.locator("#test-text").fill("Test modemu");
    await page.getByRole("button", { name: "Send test SMS" }).click();
    await page.getByText("Test SMS queued.").waitFor();
  });

  await step("the AT console is for admins only: a technician neither sees it nor can post to it", async () => {
    const page = tech.page;
    await page.goto(modemUrl);
    assert.equal(await page.locator("#at-form").count(), 0);
    const csrf = await page.locator('#ussd-form input[name="csrf"]').inputValue();
    const r = await tech.context.request.post(`${modemUrl}/at`, {
      form: { command: "AT+CSQ", csrf },
      maxRedirects: 0,
    });
    assert.equal(r.status(), 403);
  });

  await step("an admin runs an AT command; one that would break the modem's setup is refused", async () => {
    const page = admin.page;
    await page.goto(modemUrl);
    await page.locator("#at-command").fill("AT+CSQ");
    await page.getByRole("button", { name: "Run", exact: true }).click();
    await page.locator("#at-result").filter({ hasText: "+CSQ:" }).waitFor();
    assert.match(await page.locator("#at-result").textContent(), /OK\s*$/);
    await shot(page, "modem-at");
    await page.locator("#at-command").fill("ATE1");
    await page.getByRole("button", { name: "Run", exact: true }).click();
    await page.locator("p.error").filter({ hasText: "refused" }).waitFor();
    assert.equal(await page.locator("#at-result").count(), 0);
  });

  await step("a technician restarts a modem after confirming, and it comes back", async () => {
    const page = tech.page;
    await page.goto(modemUrl);
    await page.locator("#restart-confirm").check();
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "Restart modem" }).click();
    await page.getByText("The modem is restarting.").waitFor();
    await until("the modem ready again", async () => {
      await page.goto(modemUrl);
      return (await page.locator("#modem-phase").textContent()).trim() === "ready";
    });
  });

  await step("admin changes the retention periods; an audit period shorter than the messages' is refused", async () => {
    const page = admin.page;
    await page.goto(`${BASE}/panel/retention`);
    await page.locator("#ret-next").waitFor();
    await page.locator("#ret-in-days").fill("400");
    await page.locator("#ret-in-audit").fill("300");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("retention.audit_days: must be at least retention.days").waitFor();
    assert.equal(await page.locator("#ret-in-days").inputValue(), "400", "the form keeps what was typed");
    assert.equal(await page.locator("#ret-days").textContent(), "730", "the periods in force are unchanged");
    await page.locator("#ret-in-audit").fill("2000");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Retention periods saved").waitFor();
    assert.equal(await page.locator("#ret-audit-days").textContent(), "2000");
    await shot(page, "retention");
  });

  await step("a technician sees retention but not backups or the TLS page", async () => {
    const page = tech.page;
    await page.goto(`${BASE}/panel/retention`);
    await page.locator("#ret-days").waitFor();
    assert.equal(await page.locator("#retention-form").count(), 0);
    assert.equal((await page.goto(`${BASE}/panel/backups`)).status(), 403);
    assert.equal((await page.goto(`${BASE}/panel/tls`)).status(), 403);
  });

  await step("admin takes, verifies and downloads a backup, and stages a restore only with the typed name", async () => {
    const page = admin.page;
    await page.goto(`${BASE}/panel/backups`);
    await page.getByRole("button", { name: "Take a backup now" }).click();
    await page.getByText("Backup taken.").waitFor();
    const row = page.locator("#backups tbody tr").first();
    const name = (await row.locator("td").first().textContent()).trim();
    assert.match(name, /^smsgate-\d{8}T\d{9}Z\.db\.age$/);
    await row.getByRole("button", { name: "Verify" }).click();
    await page.getByText("Backup verified").waitFor();
    assert.notEqual((await page.locator("#backups tbody tr").first().locator("td").nth(4).textContent()).trim(), "—");
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.locator("#backups tbody tr").first().getByRole("link", { name: "Download", exact: true }).click(),
    ]);
    assert.equal(download.suggestedFilename(), name);
    const bytes = readFileSync(await download.path());
    assert.equal(bytes.subarray(0, 21).toString(), "age-encryption.org/v1", "the download is encrypted");
    await shot(page, "backups");
    const restoreRow = page.locator("#backups tbody tr").first();
    await restoreRow.locator("summary").click();
    await restoreRow.locator("input[name=confirm]").fill("yes");
    await restoreRow.getByRole("button", { name: "Restore…" }).click();
    await page.getByText("does not match the backup").waitFor();
    assert.equal(await page.locator("#staged-restore").count(), 0);
    const again = page.locator("#backups tbody tr").first();
    await again.locator("summary").click();
    await again.locator("input[name=confirm]").fill(name);
    await again.getByRole("button", { name: "Restore…" }).click();
    await page.getByText("Restore staged").first().waitFor();
    await page.locator("#staged-restore").getByText(name).waitFor();
    await page.getByRole("button", { name: "Cancel the restore" }).click();
    await page.getByText("Staged restore cancelled.").waitFor();
    assert.equal(await page.locator("#staged-restore").count(), 0);
  });

  await step("admin installs a certificate that new connections get without a restart, then re-issues", async () => {
    const page = admin.page;
    await page.goto(`${BASE}/panel/tls`);
    await page.locator("#tls-origin").filter({ hasText: "appliance" }).waitFor();
    const [ca] = await Promise.all([page.waitForEvent("download"), page.locator("#tls-ca").click()]);
    assert.match(readFileSync(await ca.path(), "utf8"), /^-----BEGIN CERTIFICATE-----/);
    await shot(page, "tls");
    await page.locator("#tls-in-cert").fill(readFileSync(process.env.TLS_CERT, "utf8"));
    await page.locator("#tls-in-key").fill(readFileSync(process.env.TLS_KEY, "utf8"));
    await page.getByRole("button", { name: "Install a certificate" }).click();
    await page.getByText("Certificate changed").waitFor();
    await page.locator("#tls-origin").filter({ hasText: "installed" }).waitFor();
    await page.locator("#tls-names").filter({ hasText: "panel-e2e.example" }).waitFor();
    const url = new URL(BASE);
    const served = await new Promise((resolve, reject) => {
      const socket = tls.connect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate().subject.CN);
        socket.end();
      });
      socket.on("error", reject);
    });
    assert.equal(served, "panel-e2e.example", "a new connection gets the installed certificate");
    await page.getByLabel("I understand").check();
    await page.getByRole("button", { name: "Issue a new appliance certificate" }).click();
    await page.getByText("Certificate changed").waitFor();
    await page.locator("#tls-origin").filter({ hasText: "appliance" }).waitFor();
  });

  await step("the admin's audit log shows panel logins, the deletion, modem, retention, backup and TLS actions", async () => {
    const page = admin.page;
    await page.goto(`${BASE}/panel/audit`);
    await page.locator("#audit").getByText("panel.login").first().waitFor();
    await page.locator("#audit").getByText("account.erased").first().waitFor();
    for (const action of ["panel.csv_sent", "account.ip_pool_changed", "account.cert_bound", "account.cert_revoked",
      "account.cert_required_changed", "modem.ussd", "modem.at", "modem.at.refused", "modem.restart", "modem.settings",
      "modem.test_sms", "retention.changed", "backup.created", "backup.downloaded", "backup.restore_staged",
      "tls.certificate_installed", "tls.certificate_regenerated"]) {
      await page.locator("#audit").getByText(action, { exact: true }).first().waitFor();
    }
  });

  console.log(`panel e2e: ${passed} checks passed`);
} finally {
  await browser.close();
  rmSync(P12_DIR, { recursive: true, force: true });
}
