// The dashboard as a person sees it, in Debian's Chromium (headless) driven
// by playwright-core: the page loads with no console error, the charts draw,
// a filter narrows the news, the cluster view lists every running actor,
// crawl-now on a replay source shows its report, and each source shows its
// freshness.
//   node dashboard.cjs URL TOKEN_FILE ACTORS(comma-separated identities) SHOT_DIR DOCS_SCREENSHOT
const { chromium } = require("playwright-core");
const fs = require("fs");
const assert = require("assert");

const [url, tokenFile, actorList, shots, docShot] = process.argv.slice(2);
const actors = actorList.split(",").filter(Boolean);

async function nonEmptyCanvas(page, selector) {
  return page.$eval(selector, (c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
    return false;
  });
}

(async () => {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu"] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
  page.on("pageerror", (e) => problems.push("page: " + e.message));
  page.on("requestfailed", (r) => problems.push("request failed: " + r.url()));
  page.on("request", (r) => {
    if (!r.url().startsWith(url) && !r.url().startsWith("data:")) problems.push("left the host: " + r.url());
  });
  page.setDefaultTimeout(30000);
  const step = async (name, fn) => {
    try {
      await fn();
      console.log("ok   " + name);
    } catch (e) {
      await page.screenshot({ path: `${shots}/failed-${name.replace(/\W+/g, "-")}.png`, fullPage: true });
      throw new Error(`${name}: ${e.message}`);
    }
  };

  await step("the page loads with the markets table", async () => {
    await page.goto(url);
    await page.waitForSelector("#markets tbody tr");
  });
  await step("charts render: sparkline, price with Bollinger, RSI, MACD", async () => {
    await page.click("#markets tbody tr:has-text('KRW-BTC')");
    await page.waitForFunction(() => document.querySelector("#chart-symbol").textContent === "KRW-BTC");
    await page.waitForSelector("#chart-macd canvas");
    for (const sel of ["#markets tbody tr:has-text('KRW-BTC') canvas.spark", "#chart-price canvas",
      "#chart-rsi canvas", "#chart-macd canvas", "#gauge"])
      assert.ok(await nonEmptyCanvas(page, sel), sel + " is blank");
    await page.screenshot({ path: `${shots}/markets.png`, fullPage: true });
  });
  await step("a filter narrows the news", async () => {
    // The list mixes labels before the filter (the seed's newest items are
    // positive, neutral and negative) and holds only negative ones after.
    // Counts are not compared: the crawl adds news while the page is open.
    await page.click("nav button[data-tab=news]");
    await page.waitForFunction(() => [...document.querySelectorAll("#news li")]
      .some((li) => !li.querySelector(".badge.negative")));
    await page.selectOption("#news-filter select[name=label]", "negative");
    await page.click("#news-filter button[type=submit]");
    await page.waitForFunction(() => {
      const items = [...document.querySelectorAll("#news li")];
      return items.length > 0 && items.every((li) => li.querySelector(".badge.negative"));
    });
    await page.screenshot({ path: `${shots}/news.png`, fullPage: true });
  });
  await step("the cluster view lists every running actor", async () => {
    await page.click("nav button[data-tab=cluster]");
    await page.fill("#token", fs.readFileSync(tokenFile, "utf8").trim());
    await page.waitForFunction((ids) => {
      const rows = new Map([...document.querySelectorAll("#instances tbody tr")].map((r) =>
        [r.dataset.identity, r.querySelector(".badge").textContent]));
      if (!ids.every((id) => rows.get(id) === "running")) {
        document.querySelector("nav button[data-tab=cluster]").click();  // refresh now
        return false;
      }
      return true;
    }, actors, { polling: 1000 });
    // The pipeline's topics, with the groups' lag.
    await page.waitForFunction(() => [...document.querySelectorAll("#topics tbody tr td:first-child")]
      .some((td) => td.textContent.endsWith(".unique")));
  });
  await step("pause and resume an actor from its row", async () => {
    const row = "#instances tbody tr[data-identity='local/validator/0']";
    const state = () => page.$eval(row + " .badge", (b) => b.textContent);
    // Waits until the row's badge says `want`, refreshing the cluster view each second.
    const badge = (want) => page.waitForFunction(([sel, w]) => {
      if (document.querySelector(sel + " .badge")?.textContent === w) return true;
      document.querySelector("nav button[data-tab=cluster]").click();
      return false;
    }, [row, want], { polling: 1000 });
    await page.click(row + " button:has-text('Pause')");
    await badge("paused");
    assert.match(await page.textContent("#action-result"), /"ok":true/);
    await page.click(row + " button:has-text('Resume')");
    await badge("running");
    assert.strictEqual(await state(), "running");
  });
  await step("crawl-now on a replay source shows its report", async () => {
    await page.click("#sources tr[data-source=upbit] button");
    await page.waitForFunction(() => /^(ok|partial): \d+ records/.test(
      document.querySelector("#sources tr[data-source=upbit] td.report").textContent));
    // Freshness from the scheduler: upbit's records are in PostgreSQL (its
    // newest record's time in the badge's title); the disabled source says so.
    await page.waitForFunction(() => {
      document.querySelector("nav button[data-tab=cluster]").click();
      const badge = document.querySelector("#sources tr[data-source=upbit] td.freshness .badge");
      return badge?.textContent === "fresh" && /newest record: \d{4}-/.test(badge.title);
    }, null, { polling: 1000 });
    assert.strictEqual(await page.textContent("#sources tr[data-source=cnn_fear_greed] td.freshness .badge"), "disabled");
    // docs/: the cluster view with the sources' freshness, beside the README's screenshot.
    if (docShot) await page.screenshot({ path: docShot.replace(/\.png$/, "-cluster.png"), fullPage: true });
    await page.screenshot({ path: `${shots}/cluster.png`, fullPage: true });
  });
  await step("insights and the Korean labels", async () => {
    await page.click("nav button[data-tab=insights]");
    await page.click("#lang");
    await page.waitForFunction(() => document.querySelector("nav button[data-tab=markets]").textContent === "시세");
    await page.screenshot({ path: `${shots}/insights-ko.png`, fullPage: true });
  });
  await step("the crawled markets join the table (the screenshot in docs/)", async () => {
    await page.click("#lang");  // back to English
    await page.click("nav button[data-tab=markets]");
    await page.waitForFunction(() => document.querySelectorAll("#markets tbody tr").length > 1);
    await page.click("#markets tbody tr:has-text('KRW-BTC')");
    await page.waitForSelector("#chart-macd canvas");
    if (docShot) await page.screenshot({ path: docShot, fullPage: true });
  });
  await browser.close();
  assert.deepStrictEqual(problems, [], "the browser saw problems");
  console.log(`browser test passed (${actors.length} actors listed)`);
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
