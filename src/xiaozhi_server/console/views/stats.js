import { api, query } from "../api.js";
import { barChart, shareBar } from "../charts.js";
import { el } from "../dom.js";
import { t } from "../i18n.js";
import { responseTimesSection } from "./response_times.js";
import { agents, deviceLabel, deviceRows } from "../labels.js";

export async function render(main) {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const to = new Date();
  const from = new Date(to.getFullYear(), to.getMonth(), to.getDate() - 13);
  const range = { from: from.toISOString(), to: to.toISOString(), tz };
  const [days, devices] = await Promise.all([
    api("/api/v2/stats" + query({ group_by: "day", response_times: true, ...range })),
    api("/api/v2/stats" + query({ group_by: "device", ...range })),
  ]);
  const label = (key) => key.slice(5);
  const busiest = devices.buckets.slice(0, 8);
  const known = await deviceRows(busiest.map((b) => b.key));
  const agentNames = new Map((await agents()).map((agent) => [agent.agent_id, agent.name]));
  // By alias (what people call the device), shortened to fit under its bar.
  const name = (mac) => { const text = deviceLabel(mac ?? "", known.get(mac)); return text.length > 12 ? text.slice(0, 11) + "…" : text; };
  const messages = days.buckets.reduce((sum, b) => sum + b.messages, 0);
  const tools = days.buckets.reduce((sum, b) => sum + b.tool_calls, 0);
  main.append(el("h1", {}, t("stats.title")),
    el("section", {}, el("h2", {}, t("stats.perDay")), barChart(t("stats.perDay"), days.buckets.map((b) => ({ label: label(b.key), value: b.messages })))),
    el("section", {}, el("h2", {}, t("stats.devices")), barChart(t("stats.devices"), days.buckets.map((b) => ({ label: label(b.key), value: b.active_devices })))),
    el("section", {}, el("h2", {}, t("stats.busiest")), barChart(t("stats.busiest"), busiest.map((b) => ({ label: name(b.key), value: b.messages })))),
    el("section", {}, el("h2", {}, t("stats.toolShare")), shareBar(t("stats.toolShare"), messages ? tools / messages : 0)),
    responseTimesSection(days.response_times ?? [], agentNames));
}
