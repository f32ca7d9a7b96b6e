import { api, query } from "../api.js";
import { el } from "../dom.js";
import { t, when } from "../i18n.js";

function startOfToday() {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate()).toISOString();
}

export async function render(main, { feed }) {
  const [list, today] = await Promise.all([
    api("/api/v2/devices?limit=100"),
    api("/api/v2/stats" + query({ group_by: "device", from: startOfToday() })),
  ]);
  const counts = new Map(today.buckets.map((b) => [b.key, b.messages]));
  const rows = new Map();
  const body = el("tbody");
  for (const device of list.items) {
    const row = deviceRow(device, counts.get(device.mac) ?? 0);
    rows.set(device.mac, row);
    body.append(row.node);
  }
  main.append(el("h1", {}, t("devices.title")), el("div", { class: "scroll" }, el("table", { class: "devices" },
    el("thead", {}, el("tr", {}, ...["col.alias", "col.mac", "col.agent", "col.lastSeen", "col.state", "col.today"]
      .map((key) => el("th", { scope: "col" }, t(key))))), body)));
  const offDevice = feed?.on("device_update", (data) => {
    const row = rows.get(data.mac);
    if (row) row.update({ last_seen_at: data.last_seen_at, state: "online" });
  });
  const offChat = feed?.on("chat_update", (data) => {
    let row = rows.get(data.device);
    if (!row) {
      row = deviceRow({ mac: data.device, alias: null, agent_id: data.agent_id, last_seen_at: data.created_at, state: "online" }, 0);
      rows.set(data.device, row);
      body.prepend(row.node);
    }
    row.update({ last_seen_at: data.created_at, state: "online", today: row.today + 1 });
  });
  return () => { offDevice?.(); offChat?.(); };
}

function deviceRow(device, today) {
  const cells = {
    lastSeen: el("td", {}, when(device.last_seen_at)),
    state: el("td", {}, el("span", { class: `state ${device.state}` }, t(`state.${device.state}`))),
    today: el("td", { class: "num" }, today),
  };
  const node = el("tr", { dataset: { mac: device.mac } },
    el("td", {}, el("a", { href: `#/device/${encodeURIComponent(device.mac)}` }, device.alias || device.mac)),
    el("td", { class: "mono" }, device.mac), el("td", {}, device.agent_id ?? "—"),
    cells.lastSeen, cells.state, cells.today);
  const row = {
    node, today,
    update(changes) {
      if (changes.last_seen_at) cells.lastSeen.textContent = when(changes.last_seen_at);
      if (changes.state) cells.state.replaceChildren(el("span", { class: `state ${changes.state}` }, t(`state.${changes.state}`)));
      if (changes.today !== undefined) { row.today = changes.today; cells.today.textContent = changes.today; }
    },
  };
  return row;
}
