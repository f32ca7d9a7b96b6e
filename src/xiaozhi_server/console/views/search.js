import { textParams } from "../access.js";
import { api, query } from "../api.js";
import { el, highlighted } from "../dom.js";
import { t, when } from "../i18n.js";
import { markFilters, markParams } from "../marks.js";

export async function render(main, { arg }) {
  const params = new URLSearchParams(arg || "");
  const q = el("input", { type: "search", name: "q", value: params.get("q") ?? "", placeholder: t("search.placeholder"), "aria-label": t("nav.search"), required: true });
  const device = el("input", { name: "device", value: params.get("device") ?? "", placeholder: t("col.mac"), "aria-label": t("col.mac") });
  const type = el("select", { name: "chat_type", "aria-label": t("col.state") },
    el("option", { value: "" }, t("search.any")), ...[1, 2, 3].map((n) => el("option", { value: n }, t(`speaker.${n}`))));
  type.value = params.get("chat_type") ?? "";
  const from = el("input", { type: "date", name: "from", value: params.get("from") ?? "", "aria-label": t("search.from") });
  const to = el("input", { type: "date", name: "to", value: params.get("to") ?? "", "aria-label": t("search.to") });
  const marks = await markFilters(params);
  const results = el("ol", { class: "results" });
  const form = el("form", { class: "search", role: "search", onsubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams(Object.entries({ q: q.value, device: device.value, chat_type: type.value, from: from.value, to: to.value, ...marks.values() }).filter(([, v]) => v));
    location.hash = `#/search/${next.toString()}`;
  } }, q, device, type, from, to, ...marks.controls, el("button", { type: "submit" }, t("search.submit")));
  main.append(el("h1", {}, t("nav.search")), form, results);
  if (!params.get("q")) { q.focus(); return; }
  const found = await api("/api/v2/messages/search" + query({
    q: params.get("q"), device: params.get("device"), chat_type: params.get("chat_type"),
    from: params.get("from"), to: params.get("to"), ...markParams(params), limit: 50, ...textParams(),
  }));
  if (!found.items.length) results.append(el("li", { class: "empty" }, t("search.none")));
  for (const hit of found.items) {
    results.append(el("li", {},
      el("a", { href: `#/session/${encodeURIComponent(hit.session_id)}` }, ...highlighted(hit.snippet, hit.highlights)),
      el("span", { class: "meta" }, ` ${[t(`speaker.${hit.chat_type}`), hit.speaker, hit.device, when(hit.created_at)].filter(Boolean).join(" · ")}`)));
  }
}
