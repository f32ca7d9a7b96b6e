import { api } from "../api.js";
import { el } from "../dom.js";
import { t, when } from "../i18n.js";

// "poll", or "binlog · file:offset" of the last applied transaction
function mode(row) {
  let cursor = {};
  try { cursor = JSON.parse(row.cursor || "{}"); } catch { return "—"; }
  const at = cursor.binlog ? ` · ${cursor.binlog.file}:${cursor.binlog.offset}` : "";
  return (cursor.mode ?? "—") + at;
}

export async function render(main, { feed }) {
  const body = el("tbody");
  const draw = (rows) => {
    body.replaceChildren(...rows.map((row) => {
      const lag = row.last_success_at ? Math.round((Date.now() - new Date(row.last_success_at)) / 1000) + " s" : "—";
      return el("tr", { class: row.sync_status },
        el("td", {}, row.service_name), el("td", { class: "mode" }, mode(row)),
        el("td", {}, el("span", { class: `state ${row.sync_status}` }, row.sync_status)),
        el("td", {}, lag), el("td", {}, when(row.last_success_at)), el("td", { class: "error" }, row.error_message ?? ""));
    }));
    if (!rows.length) body.append(el("tr", {}, el("td", { colspan: 6 }, t("sync.none"))));
  };
  const [status, ready] = await Promise.all([api("/api/v2/sync/status"), fetch("/readyz").then((r) => r.json())]);
  draw(status.items);
  // No banner is no node: main.append(null) would print "null" above the table.
  const banner = ready.status === "degraded" ? [el("p", { class: "banner" }, t("degraded"))] : [];
  main.append(el("h1", {}, t("sync.title")), ...banner,
    el("div", { class: "scroll" }, el("table", {}, el("thead", {}, el("tr", {},
      ...["sync.source", "sync.mode", "sync.state", "sync.lag", "sync.lastSuccess", "sync.error"].map((k) => el("th", {}, t(k))))), body)));
  const off = feed?.on("sync_status", async () => draw((await api("/api/v2/sync/status")).items));
  return () => off?.();
}
