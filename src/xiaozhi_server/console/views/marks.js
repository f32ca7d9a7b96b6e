// Sessions across every device, filtered by star and tag: the bookmarks of the hub.

import { textParams } from "../access.js";
import { api, query } from "../api.js";
import { el } from "../dom.js";
import { t, when } from "../i18n.js";
import { markBadges, markFilters, markParams } from "../marks.js";

export async function render(main, { arg }) {
  const params = new URLSearchParams(arg || "starred=true");
  const filters = await markFilters(params);
  const form = el("form", { class: "search mark-filters", onsubmit: (event) => {
    event.preventDefault();
    const chosen = Object.entries(filters.values()).filter(([, value]) => value);
    location.hash = `#/marks/${new URLSearchParams(chosen).toString()}`;
  } }, ...filters.controls, el("button", { type: "submit" }, t("marks.filter")));
  const page = await api("/api/v2/sessions" + query({ ...markParams(params), limit: 100, ...textParams() }));
  const body = el("tbody", {}, ...page.items.map((session) => el("tr", { dataset: { session: session.session_id } },
    el("td", {}, el("a", { href: `#/session/${encodeURIComponent(session.session_id)}` }, session.title || t("untitled")), " ", ...markBadges(session)),
    el("td", { class: "mono" }, session.device ?? "—"),
    el("td", { class: "note-cell" }, session.note ?? ""),
    el("td", {}, when(session.last_message_at)))));
  main.append(el("h1", {}, t("nav.marks")), form,
    page.items.length ? el("div", { class: "scroll" }, el("table", { class: "marked" }, el("thead", {}, el("tr", {},
      el("th", {}, t("col.title")), el("th", {}, t("col.mac")), el("th", {}, t("marks.note")), el("th", {}, t("col.time")))), body))
      : el("p", { class: "empty" }, t("marks.none")));
}
