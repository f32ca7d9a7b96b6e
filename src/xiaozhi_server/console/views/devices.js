// Every device, a page at a time: searched (alias, MAC, agent), sorted and paged by the
// server, so 10,000 devices cost what 50 do. The state lives in the address
// (#/devices/q=…&sort=…&order=…&page=…), so Back and a shared link show the same page.

import { api, query } from "../api.js";
import { el } from "../dom.js";
import { lang, t, when } from "../i18n.js";

const PAGE = 50;
// Sortable columns: the API's sort and the order a first click asks for.
const COLUMNS = [
  { key: "col.alias", sort: "alias", first: "asc" },
  { key: "col.mac", sort: "mac", first: "asc" },
  { key: "col.agent", sort: "agent", first: "asc" },
  { key: "col.lastSeen", sort: "last_seen", first: "desc" },
  { key: "col.state" },
  { key: "col.today" },
];
const DEFAULT = { sort: "last_seen" };

function startOfToday() {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate()).toISOString();
}

function readState(arg) {
  const params = new URLSearchParams(arg || "");
  const sort = COLUMNS.some((c) => c.sort && c.sort === params.get("sort")) ? params.get("sort") : DEFAULT.sort;
  const order = ["asc", "desc"].includes(params.get("order")) ? params.get("order") : COLUMNS.find((c) => c.sort === sort).first;
  const page = Math.max(0, Number.parseInt(params.get("page") ?? "0", 10) || 0);
  return { q: params.get("q") ?? "", sort, order, page };
}

function go(state) {
  const params = {};
  if (state.q) params.q = state.q;
  if (state.sort !== DEFAULT.sort) params.sort = state.sort;
  if (state.order !== COLUMNS.find((c) => c.sort === state.sort).first) params.order = state.order;
  if (state.page) params.page = state.page;
  location.hash = "#/devices/" + new URLSearchParams(params).toString();
}

export async function render(main, { feed, arg }) {
  const state = readState(arg);
  const [list, today] = await Promise.all([
    api("/api/v2/devices" + query({ q: state.q, sort: state.sort, order: state.order, limit: PAGE, offset: state.page * PAGE })),
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
  if (!list.items.length) body.append(el("tr", {}, el("td", { colspan: COLUMNS.length, class: "empty" }, t("devices.none"))));
  main.append(el("h1", {}, t("devices.title")), searchForm(state),
    el("div", { class: "scroll" }, el("table", { class: "devices" },
      el("thead", {}, el("tr", {}, ...COLUMNS.map((column) => header(column, state)))), body)),
    pager(state, list.total, list.items.length));
  // A new device shows up live only where it belongs: the first page, newest first, unfiltered.
  const showsNewcomers = state.page === 0 && !state.q && state.sort === "last_seen" && state.order === "desc";
  const offDevice = feed?.on("device_update", (data) => {
    rows.get(data.mac)?.update({ last_seen_at: data.last_seen_at, state: "online" });
  });
  const offChat = feed?.on("chat_update", (data) => {
    let row = rows.get(data.device);
    if (!row && !showsNewcomers) return;
    if (!row) {
      row = deviceRow({ mac: data.device, alias: null, agent_id: data.agent_id, last_seen_at: data.created_at, state: "online" }, 0);
      rows.set(data.device, row);
      body.prepend(row.node);
    }
    row.update({ last_seen_at: data.created_at, state: "online", today: row.today + 1 });
  });
  return () => { offDevice?.(); offChat?.(); };
}

function searchForm(state) {
  const q = el("input", { type: "search", name: "q", value: state.q, placeholder: t("devices.search"), "aria-label": t("devices.search") });
  return el("form", { class: "search device-search", role: "search", onsubmit: (event) => {
    event.preventDefault();
    go({ ...state, q: q.value.trim(), page: 0 });
  } }, q, el("button", { type: "submit" }, t("search.submit")));
}

function header(column, state) {
  if (!column.sort) return el("th", { scope: "col" }, t(column.key));
  const active = column.sort === state.sort;
  const order = active ? (state.order === "asc" ? "desc" : "asc") : column.first;
  const mark = active ? (state.order === "asc" ? " ▲" : " ▼") : "";
  return el("th", { scope: "col", "aria-sort": active ? (state.order === "asc" ? "ascending" : "descending") : "none" },
    el("button", { type: "button", class: "sort", dataset: { sort: column.sort }, onclick: () => go({ ...state, sort: column.sort, order, page: 0 }) },
      t(column.key) + mark));
}

function pager(state, total, shown) {
  const first = total ? state.page * PAGE + 1 : 0;
  const number = (n) => n.toLocaleString(lang() === "zh" ? "zh-CN" : "en-GB");
  const range = t("devices.range").replace("{from}", number(first)).replace("{to}", number(state.page * PAGE + shown)).replace("{total}", number(total));
  return el("nav", { class: "pager", "aria-label": t("devices.pages") },
    el("button", { type: "button", class: "prev", disabled: state.page === 0, onclick: () => go({ ...state, page: state.page - 1 }) }, t("devices.prev")),
    el("span", { class: "range" }, range),
    el("button", { type: "button", class: "next", disabled: (state.page + 1) * PAGE >= total, onclick: () => go({ ...state, page: state.page + 1 }) }, t("devices.next")));
}

function deviceRow(device, today) {
  const cells = {
    lastSeen: el("td", {}, when(device.last_seen_at)),
    state: el("td", {}, el("span", { class: `state ${device.state}` }, t(`state.${device.state}`))),
    today: el("td", { class: "num" }, today),
  };
  const node = el("tr", { dataset: { mac: device.mac } },
    el("td", {}, el("a", { href: `#/device/${encodeURIComponent(device.mac)}` }, device.alias || device.mac)),
    el("td", { class: "mono" }, device.mac), el("td", {}, device.agent_name || device.agent_id || "—"),
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
