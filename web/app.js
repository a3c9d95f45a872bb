// The cointicker dashboard: plain DOM plus uPlot (npm), bundled by esbuild
// into build/web/app.js. Everything it shows comes from /api/v1; it polls
// every 10 s. No request leaves the host that served it.
import uPlot from "uplot";

const T = {
  en: {
    markets: "Markets", news: "News", insights: "Insights", cluster: "Cluster", symbol: "Symbol", price: "Price",
    change: "24h", volume: "Volume", trend: "Trend", feargreed: "Fear & greed", nodata: "No data yet",
    nocandles: "No candles yet: the analyzer has not closed any for this symbol", search: "Search",
    allsentiment: "All sentiment", positive: "positive", neutral: "neutral", negative: "negative",
    alllang: "All languages", allsources: "All sources", apply: "Apply", more: "More",
    sentimentbysymbol: "Sentiment by symbol (7 days)", day: "Day", items: "Items", mean: "Mean",
    allseverity: "All severities", token: "Action token", instances: "Actor instances", node: "Node",
    actor: "Actor", instance: "Instance", state: "State", rate: "msgs/s in/out", lag: "Lag", restarts: "Restarts",
    sources: "Sources", source: "Source", kind: "Kind", report: "Last report", crawl: "Crawl now",
    pause: "Pause", resume: "Resume", drain: "Drain", updated: "updated", related: "related news",
    needtoken: "Enter the action token first", crawling: "crawling…", noscheduler: "The scheduler does not answer",
    topics: "Topics", topic: "Topic", partitions: "Partitions", messages: "Messages", grouplag: "Group lag",
    freshness: "Freshness", fresh: "fresh", late: "late", stale: "stale", disabled: "disabled", manual: "manual",
    newest: "newest record", failedcrawls: "failed crawls in a row",
  },
  ko: {
    markets: "시세", news: "뉴스", insights: "인사이트", cluster: "클러스터", symbol: "종목", price: "가격",
    change: "24시간", volume: "거래량", trend: "추이", feargreed: "공포·탐욕 지수", nodata: "아직 데이터가 없습니다",
    nocandles: "아직 캔들이 없습니다: 분석기가 이 종목의 캔들을 닫지 않았습니다", search: "검색",
    allsentiment: "모든 감성", positive: "긍정", neutral: "중립", negative: "부정",
    alllang: "모든 언어", allsources: "모든 출처", apply: "적용", more: "더 보기",
    sentimentbysymbol: "종목별 감성 (7일)", day: "날짜", items: "건수", mean: "평균",
    allseverity: "모든 중요도", token: "작업 토큰", instances: "액터 인스턴스", node: "노드",
    actor: "액터", instance: "인스턴스", state: "상태", rate: "초당 입력/출력", lag: "지연", restarts: "재시작",
    sources: "출처", source: "출처", kind: "종류", report: "최근 보고", crawl: "지금 수집",
    pause: "일시정지", resume: "재개", drain: "비우기", updated: "갱신", related: "관련 뉴스",
    needtoken: "먼저 작업 토큰을 입력하세요", crawling: "수집 중…", noscheduler: "스케줄러가 응답하지 않습니다",
    topics: "토픽", topic: "토픽", partitions: "파티션", messages: "메시지", grouplag: "그룹 지연",
    freshness: "신선도", fresh: "최신", late: "지연", stale: "정체", disabled: "사용 안 함", manual: "수동",
    newest: "최신 레코드", failedcrawls: "연속 수집 실패",
  },
};
let lang = localStorage.getItem("ctk-lang") || (navigator.language.startsWith("ko") ? "ko" : "en");
const t = (k) => T[lang][k] ?? k;

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k ?? "")));
  return e;
};
const fmt = (x, d = 2) => (x == null ? "–" : Number(x).toLocaleString(undefined, { maximumFractionDigits: d }));

async function api(path, opts) {
  const r = await fetch("/api/v1" + path, opts);
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok && r.status !== 202) throw Object.assign(new Error(body.error || r.statusText), { status: r.status, body });
  return body;
}

function translate() {
  document.documentElement.lang = lang;
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  for (const e of document.querySelectorAll("[data-i18n-placeholder]")) e.placeholder = t(e.dataset.i18nPlaceholder);
  $("#lang").textContent = lang === "ko" ? "English" : "한국어";
}

// ---- markets ----
let selected = null;
function sparkline(values) {
  const c = el("canvas", { width: 120, height: 28, class: "spark" });
  const g = c.getContext("2d");
  if (values.length > 1) {
    const lo = Math.min(...values), hi = Math.max(...values), span = hi - lo || 1;
    g.strokeStyle = values[values.length - 1] >= values[0] ? "#1a9850" : "#d73027";
    g.lineWidth = 1.5;
    g.beginPath();
    values.forEach((v, i) => {
      const x = (i / (values.length - 1)) * (c.width - 2) + 1, y = c.height - 2 - ((v - lo) / span) * (c.height - 4);
      i ? g.lineTo(x, y) : g.moveTo(x, y);
    });
    g.stroke();
  }
  return c;
}

async function loadMarkets() {
  const { items, intervals } = await api("/markets");
  const sel = $("#interval");
  if (!sel.options.length) {
    for (const iv of [...intervals].reverse()) sel.append(el("option", { value: iv }, iv));  // the longest first
  }
  const body = $("#markets tbody");
  body.replaceChildren(
    ...items.map((m) =>
      el("tr", { class: m.symbol === selected ? "selected" : "", onclick: () => selectSymbol(m.symbol) },
        el("td", {}, m.symbol), el("td", { class: "num" }, fmt(m.price, 4)),
        el("td", { class: "num " + (m.change_24h >= 0 ? "up" : "down") }, fmt(m.change_24h * 100) + " %"),
        el("td", { class: "num" }, fmt(m.volume_24h, 0)), el("td", {}, sparkline(m.spark)))),
  );
  $("#markets-empty").hidden = items.length > 0;
  if (!selected && items.length) selectSymbol(items[0].symbol);
}

const charts = {};
function plot(id, data, series, height) {
  const node = $("#" + id);
  charts[id]?.destroy();
  node.replaceChildren();
  const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 3 });
  charts[id] = new uPlot({ width: node.clientWidth || 800, height, series: [{}, ...series],
    axes: [{}, { size: 60, values: (u, vals) => vals.map((v) => compact.format(v)) }], legend: { live: false } },
    data, node);
}

async function loadChart() {
  if (!selected) return;
  const iv = $("#interval").value;
  const h = await api(`/markets/${encodeURIComponent(selected)}/history?interval=${iv}&limit=200`);
  $("#chart-symbol").textContent = selected;
  const c = h.candles;
  $("#chart-empty").hidden = c.length > 0;
  const x = c.map((k) => Date.parse(k.time) / 1000);
  const col = (k) => c.map((r) => r[k]);
  if (!c.length) {
    const tx = h.ticks.map((k) => Date.parse(k.time) / 1000);
    plot("chart-price", [tx, h.ticks.map((k) => k.price)], [{ label: t("price"), stroke: "#2c7fb8" }], 260);
    for (const id of ["chart-rsi", "chart-macd"]) (charts[id]?.destroy(), $("#" + id).replaceChildren());
    return;
  }
  plot("chart-price", [x, col("close"), col("bb_upper"), col("bb_middle"), col("bb_lower")], [
    { label: t("price"), stroke: "#2c7fb8", width: 2 },
    { label: "BB upper", stroke: "#bbb" }, { label: "BB middle", stroke: "#999", dash: [4, 4] },
    { label: "BB lower", stroke: "#bbb" }], 260);
  plot("chart-rsi", [x, col("rsi")], [{ label: "RSI 14", stroke: "#7b3294" }], 120);
  plot("chart-macd", [x, col("macd"), col("macd_signal"), col("macd_hist")], [
    { label: "MACD", stroke: "#e66101" }, { label: "signal", stroke: "#5e3c99" },
    { label: "hist", stroke: "#999", fill: "rgba(150,150,150,0.3)" }], 120);
}

function selectSymbol(s) {
  selected = s;
  for (const tr of document.querySelectorAll("#markets tbody tr"))
    tr.classList.toggle("selected", tr.firstChild.textContent === s);
  loadChart().catch(show);
}

function gauge(value) {
  const c = $("#gauge"), g = c.getContext("2d"), cx = c.width / 2, cy = c.height - 10, r = 90;
  g.clearRect(0, 0, c.width, c.height);
  const colors = ["#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850"];
  colors.forEach((col, i) => {
    g.beginPath();
    g.strokeStyle = col;
    g.lineWidth = 18;
    g.arc(cx, cy, r, Math.PI + (i * Math.PI) / 5, Math.PI + ((i + 1) * Math.PI) / 5);
    g.stroke();
  });
  if (value == null) return;
  const a = Math.PI + (value / 100) * Math.PI;
  g.strokeStyle = "#333";
  g.lineWidth = 3;
  g.beginPath();
  g.moveTo(cx, cy);
  g.lineTo(cx + Math.cos(a) * (r - 5), cy + Math.sin(a) * (r - 5));
  g.stroke();
  g.fillStyle = "#333";
  g.font = "bold 22px sans-serif";
  g.textAlign = "center";
  g.fillText(String(value), cx, cy - 25);
}

async function loadFearGreed() {
  const fg = await api("/fear-greed?limit=30");
  gauge(fg.latest?.value);
  $("#fg-label").textContent = fg.latest ? `${fg.latest.classification} (${fg.latest.source})` : t("nodata");
  const box = $("#fg-history");
  charts.fg?.destroy();
  box.replaceChildren();
  if (fg.history.length > 1)
    charts.fg = new uPlot({ width: 220, height: 90, legend: { show: false }, axes: [{ show: false }, { size: 30 }],
      series: [{}, { stroke: "#555" }], scales: { y: { range: [0, 100] } } },
      [fg.history.map((h) => Date.parse(h.timestamp) / 1000), fg.history.map((h) => h.value)], box);
}

// ---- news ----
let newsCursor = "";
function badge(label, score) {
  return el("span", { class: "badge " + (label || "none") }, label ? `${t(label)} ${fmt(score)}` : "–");
}
async function loadNews(more = false) {
  const f = new FormData($("#news-filter"));
  const q = new URLSearchParams();
  for (const [k, v] of f) if (v) q.set(k, v);
  q.set("limit", "30");
  if (more && newsCursor) q.set("cursor", newsCursor);
  const r = await api("/news?" + q);
  const items = r.items.map((n) =>
    el("li", { class: "news" }, badge(n.label, n.score), " ",
      el("a", { href: n.url || "#", target: "_blank", rel: "noopener" }, n.title),
      el("span", { class: "muted" }, ` ${n.source} · ${n.published_at.slice(0, 16).replace("T", " ")} · ${n.symbols.join(", ")}`)));
  if (more) $("#news").append(...items);
  else $("#news").replaceChildren(...items);
  newsCursor = r.next_cursor;
  $("#news-more").hidden = !newsCursor;
  $("#news-empty").hidden = $("#news").children.length > 0;
}
async function loadSentiment() {
  const { items } = await api("/sentiment?days=7");
  $("#sentiment tbody").replaceChildren(...items.slice(0, 50).map((s) =>
    el("tr", {}, el("td", {}, s.symbol), el("td", {}, s.day), el("td", { class: "num" }, s.count),
      el("td", { class: "num " + (s.mean >= 0 ? "up" : "down") }, fmt(s.mean)))));
}

// ---- insights ----
async function loadInsights() {
  const f = new FormData($("#insight-filter"));
  const q = new URLSearchParams({ limit: "50" });
  for (const [k, v] of f) if (v) q.set(k, v);
  const { items } = await api("/insights?" + q);
  $("#insights").replaceChildren(...items.map((i) =>
    el("li", { class: "insight " + i.severity }, el("span", { class: "badge " + i.severity }, i.severity), " ",
      lang === "ko" ? i.text_ko : i.text_en,
      el("span", { class: "muted" }, ` ${i.timestamp.slice(0, 16).replace("T", " ")}` +
        (i.related_news.length ? ` · ${t("related")}: ${i.related_news.length}` : "")))));
  $("#insights-empty").hidden = items.length > 0;
}

// ---- cluster and actions ----
function token() {
  const v = $("#token").value.trim();
  if (!v) throw new Error(t("needtoken"));
  sessionStorage.setItem("ctk-token", v);
  return v;
}
async function action(path, body) {
  const r = await api(path, { method: "POST", headers: { "Content-Type": "application/json",
    Authorization: "Bearer " + token() }, body: JSON.stringify(body) });
  return r;
}
async function ctl(cmd, inst) {
  try {
    const r = await action("/actions/ctl", { cmd, node: inst.node, actor: inst.actor, instance: inst.instance });
    $("#action-result").textContent = `${cmd} ${inst.identity}: ${JSON.stringify(r)}`;
    loadCluster().catch(show);
  } catch (e) {
    $("#action-result").textContent = e.message;
  }
}
async function crawl(source, cell) {
  cell.textContent = t("crawling");
  try {
    const r = await action("/actions/crawl", { source, wait_ms: 60000 });
    const rep = r.report;
    cell.textContent = rep ? `${rep.status}: ${rep.records} records, ${rep.errors} errors, ${rep.duration_ms} ms` +
      (rep.error ? ` (${rep.error})` : "") : `sent ${r.id}`;
    cell.className = "report " + (rep?.status || "");
  } catch (e) {
    cell.textContent = e.message;
    cell.className = "report failed";
  }
}
async function loadCluster() {
  let c;
  try {
    c = await api("/cluster");
    $("#cluster-error").hidden = true;
  } catch (e) {
    $("#cluster-error").hidden = false;
    $("#cluster-error").textContent = `${t("noscheduler")}: ${e.message}`;
    return;
  }
  $("#instances tbody").replaceChildren(...c.scheduler.instances.map((i) =>
    el("tr", { class: "state-" + i.state, "data-identity": i.identity }, el("td", {}, i.node), el("td", {}, i.actor),
      el("td", {}, i.instance), el("td", {}, el("span", { class: "badge " + i.state }, i.state)),
      el("td", { class: "num" }, `${fmt(i.consumed_per_s, 0)} / ${fmt(i.produced_per_s, 0)}`),
      el("td", { class: "num" }, i.lag), el("td", { class: "num" }, i.restarts),
      el("td", {}, ...["pause", "resume", "drain"].map((cmd) =>
        el("button", { class: "small", onclick: () => ctl(cmd, i) }, t(cmd)))))));
  $("#topics tbody").replaceChildren(...c.topics.map((tp) =>
    el("tr", {}, el("td", {}, tp.name), el("td", { class: "num" }, tp.partitions), el("td", { class: "num" }, fmt(tp.messages, 0)),
      el("td", {}, tp.lags.map((l) => `${l.group.replace(/^.*?\./, "")} ${l.lag}`).join(", ")))));
  $("#topics-error").hidden = !c.topics_error;
  $("#topics-error").textContent = c.topics_error || "";
  const body = $("#sources tbody");
  if (body.children.length !== c.sources.length) {
    body.replaceChildren(...c.sources.map((s) => {
      const cell = el("td", { class: "report" });
      return el("tr", { "data-source": s.name }, el("td", {}, s.name), el("td", {}, s.kind),
        el("td", { class: "freshness" }), el("td", {}, el("button", { class: "small", onclick: () => crawl(s.name, cell),
          ...(s.enabled ? {} : { disabled: "", title: s.disabled_reason }) }, t("crawl"))), cell);
    }));
    const sel = $("#news-filter select[name=source]");
    for (const s of c.sources) if (s.kind === "news") sel.append(el("option", { value: s.name }, s.name));
  }
  // Freshness as the scheduler judges it: the newest stored record against the schedule.
  const fresh = new Map((c.scheduler.sources || []).map((f) => [f.source, f]));
  for (const row of body.children) {
    const f = fresh.get(row.dataset.source);
    const title = f ? `${t("newest")}: ${f.newest_record_at || "-"}; ${t("failedcrawls")}: ${f.failures}` +
      (f.last_error ? `; ${f.last_error}` : "") : "";
    row.querySelector("td.freshness").replaceChildren(...(f ? [el("span", { class: "badge " + f.state, title },
      t(f.state)), f.age_s >= 0 ? ` ${ago(f.age_s)}` : ""] : []));
  }
}
function ago(s) {
  return s < 120 ? `${Math.round(s)} s` : s < 7200 ? `${Math.round(s / 60)} min` : s < 172800 ?
    `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} d`;
}

// ---- shell ----
function show(e) {
  console.warn(e.message || e);
}
let tab = "markets";
async function refresh() {
  const jobs = { markets: [loadMarkets, loadFearGreed, loadChart], news: [loadSentiment],
    insights: [loadInsights], cluster: [loadCluster] }[tab];
  await Promise.all(jobs.map((f) => f().catch(show)));
  $("#updated").textContent = `${t("updated")} ${new Date().toLocaleTimeString()}`;
}
function openTab(name) {
  tab = name;
  for (const b of document.querySelectorAll("nav button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== "tab-" + name;
  if (name === "news") loadNews().catch(show);
  refresh();
}

document.addEventListener("DOMContentLoaded", async () => {
  translate();
  $("#token").value = sessionStorage.getItem("ctk-token") || "";
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => openTab(b.dataset.tab));
  $("#lang").addEventListener("click", () => {
    lang = lang === "ko" ? "en" : "ko";
    localStorage.setItem("ctk-lang", lang);
    translate();
    refresh();
  });
  $("#news-filter").addEventListener("submit", (e) => (e.preventDefault(), loadNews().catch(show)));
  $("#news-more").addEventListener("click", () => loadNews(true).catch(show));
  $("#insight-filter").addEventListener("submit", (e) => (e.preventDefault(), loadInsights().catch(show)));
  $("#interval").addEventListener("change", () => loadChart().catch(show));
  loadCluster().catch(show);  // fills the news source filter
  await refresh();
  setInterval(refresh, 10000);
});
