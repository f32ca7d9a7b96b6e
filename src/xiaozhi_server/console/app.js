// The console: a hash router, the sign-in gate, the live feed and its indicator.

import { setMe, setUnmasked } from "./access.js";
import { api } from "./api.js";
import { Feed } from "./feed.js";
import { lang, setLang, t, translateStatic } from "./i18n.js";
import * as login from "./views/login.js";
import * as devices from "./views/devices.js";
import * as device from "./views/device.js";
import * as session from "./views/session.js";
import * as search from "./views/search.js";
import * as stats from "./views/stats.js";
import * as sync from "./views/sync.js";
import * as users from "./views/users.js";
import * as audit from "./views/audit.js";
import * as marks from "./views/marks.js";
import * as shares from "./views/shares.js";
import * as live from "./views/live.js";
import { installKeys } from "./keys.js";

const ROUTES = { devices, device, session, search, stats, sync, users, audit, marks, shares, live };
const main = document.getElementById("main");
const indicator = document.getElementById("connection");
let cleanup = null;
let feed = null;
let connection = "reconnecting";

function showConnection(state) {
  connection = state;
  indicator.textContent = t(`conn.${state}`);
  indicator.dataset.state = state;
}

async function route() {
  if (cleanup) cleanup();
  cleanup = null;
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const view = ROUTES[name] ?? devices;
  const arg = decodeURIComponent(rest.join("/"));
  main.replaceChildren();
  try {
    cleanup = (await view.render(main, { feed, arg })) ?? null;
  } catch (error) {
    if (error.status !== 401) main.textContent = String(error.message ?? error);
  }
  // To main for screen readers, unless the view put focus on its own field (search).
  if (!main.contains(document.activeElement)) main.focus({ preventScroll: true });
}

async function signedIn() {
  try {
    setMe(await api("/api/v2/auth/me"));
    return true;
  } catch {
    setMe(null);
    return false;
  }
}

async function showLogin() {
  feed?.stop();
  feed = null;
  if (cleanup) cleanup();
  setMe(null);
  document.body.classList.add("signed-out");
  main.replaceChildren();
  await login.render(main, { onSignedIn: async () => { if (await signedIn()) start(); } });
}

async function start() {
  document.body.classList.remove("signed-out");
  document.getElementById("unmask").checked = false;
  feed = new Feed(showConnection);
  feed.start();
  await banner();
  await route();
}

// An admin's "show unmasked": text as stored in every view and the feed (each such
// request is recorded in the audit trail on the server).
document.getElementById("unmask").addEventListener("change", (event) => {
  setUnmasked(event.target.checked);
  feed?.restart();
  route();
});

async function banner() {
  const node = document.getElementById("banner");
  try {
    const ready = await (await fetch("/readyz")).json();
    node.hidden = ready.status !== "degraded";
    node.textContent = t("degraded");
  } catch {
    node.hidden = true;
  }
}

document.getElementById("lang").addEventListener("click", () => {
  setLang(lang() === "zh" ? "en" : "zh");
  document.getElementById("lang").textContent = t("lang.switch");
  translateStatic();
  showConnection(connection);
  if (feed) route();
  else showLogin();
});

document.getElementById("logout").addEventListener("click", async () => {
  await api("/api/v2/auth/logout", { method: "POST" }).catch(() => null);
  showLogin();
});

window.addEventListener("hashchange", () => feed && route());
window.addEventListener("xiaozhi:signed-out", () => feed && showLogin());

// A handle for diagnostics and tests: the live feed of this page.
window.xiaozhi = { get feed() { return feed; } };

installKeys();
translateStatic();
document.getElementById("lang").textContent = t("lang.switch");
showConnection("reconnecting");
if (await signedIn()) start();
else showLogin();
