// The Grafana dashboard (deploy/grafana/cointicker.json) asks only for
// what exists: every PromQL expression parses (promtool check rules on a
// recording rule per expression, the dashboard's $node variable set to
// .*), and every ctk_* metric it names is one the code exports (its name,
// quoted, in actors/, pipeline/ or brokers/). node_* names are
// node_exporter's.
//   node dashboard_check.cjs SOURCE_DIR
const fs = require("fs");
const path = require("path");
const os = require("os");
const { execFileSync } = require("child_process");

const src = process.argv[2];
const dash = JSON.parse(fs.readFileSync(path.join(src, "deploy/grafana/cointicker.json"), "utf8"));
const exprs = [];
for (const p of dash.panels) for (const t of p.targets || []) exprs.push({ id: `panel_${p.id}_${t.refId}`, expr: t.expr });
if (exprs.length === 0) throw new Error("no expressions in the dashboard");

const rules = ["groups:", "  - name: dashboard", "    rules:"];
for (const e of exprs) rules.push(`      - record: dashboard:${e.id}`, `        expr: ${JSON.stringify(e.expr.replaceAll("$node", ".*"))}`);
const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ctk-dash-")), "dashboard.rules.yml");
fs.writeFileSync(file, rules.join("\n") + "\n");
execFileSync("promtool", ["check", "rules", file], { stdio: "inherit" });

function sources(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => d.isDirectory() ? sources(path.join(dir, d.name)) :
    /\.(cc|h)$/.test(d.name) ? [fs.readFileSync(path.join(dir, d.name), "utf8")] : []);
}
const code = ["actors", "pipeline", "brokers"].flatMap((d) => sources(path.join(src, d))).join("\n");
const missing = new Set();
for (const e of exprs)
  for (const m of e.expr.matchAll(/\bctk_[a-z0-9_]*[a-z0-9]/g)) {
    const name = m[0].replace(/_(bucket|sum|count)$/, "");
    if (!code.includes(`"${name}"`)) missing.add(name);
  }
if (missing.size) {
  console.error(`the dashboard names metrics no actor exports: ${[...missing].join(", ")}`);
  process.exit(1);
}
console.log(`${exprs.length} expressions parse; every ctk_* metric they name is exported`);
