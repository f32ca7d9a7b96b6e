// Names for people instead of ids: agents by their name, devices by their alias.

import { api } from "./api.js";

const MACS_PER_REQUEST = 100;  // /api/v2/devices takes up to 100 mac=… at once
const AGENTS_FRESH_MS = 60_000;  // agents are renamed rarely: one look-up a minute at most
let agentList = null;
let agentsAt = 0;

// Every agent: [{agent_id, name}] by name (the first 100, which is every one in practice).
export async function agents() {
  if (!agentList || Date.now() - agentsAt > AGENTS_FRESH_MS) {
    agentsAt = Date.now();
    agentList = api("/api/v2/agents?limit=100").then((page) => page.items).catch(() => []);
  }
  return agentList;
}

// An agent's name, or its id when the upstream named none.
export async function agentName(agentId) {
  if (!agentId) return "—";
  const found = (await agents()).find((agent) => agent.agent_id === agentId);
  return found?.name || agentId;
}

// The device rows (alias, agent_name, …) of these MACs, by MAC; an unknown MAC is absent.
export async function deviceRows(macs) {
  const wanted = [...new Set(macs.filter(Boolean))];
  const rows = new Map();
  for (let at = 0; at < wanted.length; at += MACS_PER_REQUEST) {
    const batch = wanted.slice(at, at + MACS_PER_REQUEST);
    const params = new URLSearchParams([["limit", "100"], ...batch.map((mac) => ["mac", mac])]);
    const page = await api(`/api/v2/devices?${params}`).catch(() => ({ items: [] }));
    for (const row of page.items) rows.set(row.mac, row);
  }
  return rows;
}

// What people call a device: its alias, else its MAC.
export function deviceLabel(mac, row) {
  return row?.alias || mac;
}
