// The live wall: every conversation as it happens, one card per device, newest activity
// first. It has its own connection to the feed, subscribed with the device and chat type
// filters so the server sends only what is shown, and on opening replays the last stored
// turns so the wall is not empty. Paused, turns wait in a buffer (counted)
// and are shown in order on resume. The filters live in the address (#/live/agent=…).

import { el } from "../dom.js";
import { Feed } from "../feed.js";
import { t, when } from "../i18n.js";
import { agentName, agents, deviceLabel, deviceRows } from "../labels.js";

const BACKLOG = 200;          // stored turns replayed on opening
const TURNS_PER_DEVICE = 6;   // a card shows this device's last turns
const MAX_DEVICES = 60;       // cards beyond this (the quietest) leave the wall
const MAX_WAITING = 5000;     // turns kept while paused; older ones only counted
const MAX_REMEMBERED = 20000; // ids remembered so that no turn is shown twice
const KINDS = { 1: "user", 2: "agent", 3: "tool" };
const MAC = /^[0-9a-f]{2}([:-]?[0-9a-f]{2}){5}$/i;

// The device id as the server normalises it: a MAC in any spelling → aa:bb:cc:dd:ee:ff.
function normaliseDevice(value) {
  const text = value.trim();
  if (!MAC.test(text)) return text;
  return text.replace(/[:-]/g, "").toLowerCase().match(/../g).join(":");
}

function readFilters(arg) {
  const params = new URLSearchParams(arg || "");
  const chatType = Number(params.get("chat_type"));
  return {
    agent: params.get("agent") || "",
    device: normaliseDevice(params.get("device") || ""),
    chatType: KINDS[chatType] ? chatType : 0,
  };
}

function go(filters) {
  const params = Object.entries({ agent: filters.agent, device: filters.device, chat_type: filters.chatType || "" })
    .filter(([, value]) => value);
  location.hash = "#/live/" + new URLSearchParams(params).toString();
}

// The subscription: only chat turns, of this device and chat type. Not the agent: the
// server matches a turn's own agent id, and a turn the core reported carries none (its
// device names the agent), so the agent is matched here, by turn or by device.
function subscription(filters) {
  return {
    types: ["chat_update"],
    ...(filters.device ? { device: filters.device } : {}),
    ...(filters.chatType ? { chat_types: [filters.chatType] } : {}),
  };
}

function matches(filters, message, agentId) {
  return (!filters.agent || agentId === filters.agent)
    && (!filters.device || message.device === filters.device)
    && (!filters.chatType || message.chat_type === filters.chatType);
}

export async function render(main, { arg }) {
  const filters = readFilters(arg);
  const knownAgents = await agents();
  const state = el("span", { class: "wall-state", role: "status" });
  const empty = el("p", { class: "empty wall-empty" }, t("live.waiting"));
  const wall = el("div", { class: "wall" });
  const devices = el("datalist", { id: "wall-devices" });
  const cards = new Map();
  const rows = new Map();
  const shown = new Set();
  const waiting = [];
  let waitingCount = 0;
  let paused = false;

  const pause = el("button", { type: "button", class: "pause", "aria-pressed": "false", onclick: () => toggle() }, t("live.pause"));
  const showPaused = () => {
    pause.textContent = paused ? t("live.resume").replace("{n}", waitingCount) : t("live.pause");
    pause.setAttribute("aria-pressed", String(paused));
    state.textContent = paused ? t("live.paused").replace("{n}", waitingCount) : "";
  };
  const toggle = () => {
    paused = !paused;
    if (!paused) {
      waiting.splice(0).forEach(show);
      waitingCount = 0;
    }
    showPaused();
  };

  // Each device's row (alias, agent), looked up once: labels cards, and names the agent
  // of turns reported without one.
  const deviceRow = (mac) => {
    if (!rows.has(mac)) rows.set(mac, deviceRows([mac]).then((found) => found.get(mac) ?? null));
    return rows.get(mac);
  };
  const cardFor = (message) => {
    let card = cards.get(message.device);
    if (!card) {
      card = deviceCard(message, filters);
      cards.set(message.device, card);
      devices.append(el("option", { value: message.device }));
      deviceRow(message.device).then(card.label);
    }
    return card;
  };
  const show = (message) => {
    const card = cardFor(message);
    card.add(message);
    wall.prepend(card.node);  // the device that spoke last leads the wall
    empty.hidden = true;
    while (wall.children.length > MAX_DEVICES) {
      const quietest = wall.lastElementChild;
      cards.delete(quietest.dataset.mac);
      quietest.remove();
    }
  };
  // One turn at a time, in the order they came (a device look-up may wait in between).
  const admit = async (message) => {
    if (shown.has(message.id)) return;
    const agentId = message.agent_id ?? (filters.agent ? (await deviceRow(message.device))?.agent_id : null);
    if (!matches(filters, message, agentId)) return;
    shown.add(message.id);
    // A wall may stay open for days: remember only the latest ids (a Set keeps their order).
    if (shown.size > MAX_REMEMBERED) shown.delete(shown.values().next().value);
    // The replayed backlog is shown even when paused: only what is new waits.
    if (!paused || message.id <= (feed.backlogUpTo ?? 0)) return show(message);
    waitingCount += 1;
    waiting.push(message);
    if (waiting.length > MAX_WAITING) waiting.shift();
    showPaused();
  };
  let queue = Promise.resolve();

  main.append(el("h1", {}, t("live.title")),
    filterForm(filters, knownAgents, devices), el("div", { class: "wall-bar" }, pause, state), empty, wall);
  const feed = new Feed((connection) => { if (!paused) state.textContent = connection === "live" ? "" : t(`conn.${connection}`); },
    { filters: subscription(filters), backlog: BACKLOG });
  feed.on("chat_update", (message) => { queue = queue.then(() => admit(message)); });
  feed.start();
  // Tests and diagnostics reach the wall's own connection here.
  window.xiaozhi.wall = feed;
  return () => { feed.stop(); if (window.xiaozhi.wall === feed) delete window.xiaozhi.wall; };
}

function filterForm(filters, knownAgents, devices) {
  const agent = el("select", { name: "agent", "aria-label": t("col.agent") },
    el("option", { value: "" }, t("live.anyAgent")),
    ...knownAgents.map((a) => el("option", { value: a.agent_id }, a.name || a.agent_id)));
  agent.value = filters.agent;
  const device = el("input", { type: "search", name: "device", list: "wall-devices", value: filters.device, placeholder: t("live.device"), "aria-label": t("live.device") });
  const type = el("select", { name: "chat_type", "aria-label": t("live.type") },
    el("option", { value: "0" }, t("search.any")), ...[1, 2, 3].map((n) => el("option", { value: n }, t(`speaker.${n}`))));
  type.value = String(filters.chatType);
  const apply = () => go({ agent: agent.value, device: normaliseDevice(device.value), chatType: Number(type.value) });
  agent.addEventListener("change", apply);
  type.addEventListener("change", apply);
  const filtered = filters.agent || filters.device || filters.chatType;
  return el("form", { class: "wall-filters", onsubmit: (event) => { event.preventDefault(); apply(); } },
    agent, device, devices, type, el("button", { type: "submit" }, t("live.apply")),
    filtered ? el("a", { href: "#/live", class: "clear" }, t("live.clear")) : null);
}

function deviceCard(message, filters) {
  const mac = message.device;
  const title = el("a", { href: `#/device/${encodeURIComponent(mac)}`, class: "device-name" }, mac);
  const agent = el("span", { class: "agent-name meta" });
  agentName(message.agent_id).then((name) => { agent.textContent = name; });
  const turns = el("ol", { class: "turns" });
  const only = filters.device ? null : el("button", { type: "button", class: "only", onclick: () => go({ ...filters, device: mac }) }, t("live.onlyDevice"));
  const node = el("section", { class: "device-card", dataset: { mac }, "aria-label": mac },
    el("header", {}, title, el("span", { class: "mono meta" }, mac), agent, only), turns);
  return {
    node,
    add(turn) {
      turns.append(turnItem(turn));
      while (turns.children.length > TURNS_PER_DEVICE) turns.firstElementChild.remove();
    },
    label(row) {
      title.textContent = deviceLabel(mac, row);
      node.setAttribute("aria-label", title.textContent);
      if (!message.agent_id && row?.agent_id) agent.textContent = row.agent_name || row.agent_id;
    },
  };
}

function turnItem(message) {
  const who = t(`speaker.${message.chat_type}`) + (message.speaker ? ` · ${message.speaker}` : "");
  return el("li", { class: `turn ${KINDS[message.chat_type] ?? "tool"}`, dataset: { id: message.id, session: message.session_id } },
    el("span", { class: "who" }, who),
    el("a", { href: `#/session/${encodeURIComponent(message.session_id)}`, class: "text", title: t("live.open") }, turnText(message)),
    el("time", { datetime: message.created_at }, when(message.created_at)));
}

// A tool row's content is the core's JSON list; the wall shows its texts.
function turnText(message) {
  if (message.chat_type !== 3) return message.content;
  try {
    const parts = JSON.parse(message.content);
    if (Array.isArray(parts)) return parts.map((part) => part?.text ?? JSON.stringify(part)).join(" ");
  } catch { /* not JSON: shown as it is */ }
  return message.content;
}
