import { can, textParams } from "../access.js";
import { api, query } from "../api.js";
import { el } from "../dom.js";
import { t, when } from "../i18n.js";
import { eraseButton } from "../erasure.js";
import { markBadges } from "../marks.js";

export async function render(main, { feed, arg: mac }) {
  const body = el("tbody");
  const rows = new Map();
  const put = (session, first) => {
    const row = el("tr", {},
      el("td", {}, el("a", { href: `#/session/${encodeURIComponent(session.session_id)}` }, session.title || t("untitled")), " ", ...markBadges(session)),
      el("td", {}, when(session.last_message_at)), el("td", { class: "num" }, session.message_count));
    rows.get(session.session_id)?.remove();
    rows.set(session.session_id, row);
    if (first) body.prepend(row); else body.append(row);
  };
  // Keyset pages: "more" follows next_cursor, through any number of sessions.
  const more = el("button", { type: "button", class: "more", hidden: true }, t("device.more"));
  let cursor = null;
  const load = async () => {
    const page = await api("/api/v2/sessions" + query({ device: mac, limit: 50, cursor, ...textParams() }));
    page.items.forEach((s) => put(s, false));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  more.addEventListener("click", load);
  await load();
  main.append(
    el("p", {}, el("a", { href: "#/devices" }, "← " + t("back"))),
    el("h1", {}, mac),
    el("div", { class: "tools" }, exportLinks({ device: mac }), eraseButton("device", mac, () => { location.hash = "#/devices"; })),
    el("h2", {}, t("device.sessions")),
    el("div", { class: "scroll" }, el("table", {}, el("thead", {}, el("tr", {},
      el("th", {}, t("col.title")), el("th", {}, t("col.time")), el("th", {}, t("col.count")))), body)), more);
  const off = feed?.on("session_update", (session) => { if (session.device === mac) put(session, true); });
  return () => off?.();
}

// Exports are for admins only: a viewer is not offered them.
export function exportLinks(filters) {
  if (!can("export")) return null;
  return el("p", { class: "export" }, t("export") + ": ",
    ...["jsonl", "csv", "txt"].map((format) => el("a", {
      href: "/api/v2/export" + query({ format, tz: Intl.DateTimeFormat().resolvedOptions().timeZone, ...filters, ...textParams() }),
      download: "",
    }, format.toUpperCase())));
}
