// Response times on the statistics page: per day and agent, how long replies took to begin
// (user turn → first agent sentence), median and 95th percentile.
import { el } from "../dom.js";
import { t } from "../i18n.js";

// ``names``: agent id → name (labels.js), so people read the agent's name, not its id.
export function responseTimesSection(rows, names = new Map()) {
  const head = el("tr", {},
    el("th", {}, t("stats.day")), el("th", {}, t("stats.agent")),
    el("th", { class: "num" }, t("stats.replies")), el("th", { class: "num" }, t("stats.p50")), el("th", { class: "num" }, t("stats.p95")));
  const body = rows.length
    ? rows.map((row) => el("tr", { dataset: { day: row.day, agent: row.agent_id ?? "" } },
      el("td", {}, row.day), el("td", {}, row.agent_id ? names.get(row.agent_id) || row.agent_id : t("stats.unknownAgent")),
      el("td", { class: "num" }, row.replies),
      el("td", { class: "num p50" }, seconds(row.p50_ms)), el("td", { class: "num p95" }, seconds(row.p95_ms))))
    : [el("tr", {}, el("td", { colspan: 5 }, t("stats.noReplies")))];
  return el("section", {}, el("h2", {}, t("stats.responseTimes")),
    el("div", { class: "scroll" }, el("table", { class: "response-times" }, el("thead", {}, head), el("tbody", {}, body))));
}

function seconds(ms) {
  return t("stats.seconds").replace("{s}", (ms / 1000).toFixed(1));
}
