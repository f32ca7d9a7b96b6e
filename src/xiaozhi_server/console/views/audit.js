// The audit trail (admins only): who signed in (or tried), exported, unmasked, erased and
// changed users, newest first, a page at a time.

import { api, query } from "../api.js";
import { el } from "../dom.js";
import { t, when } from "../i18n.js";

const ACTIONS = ["sign_in", "sign_in_failed", "export", "unmask", "erase", "retention",
  "user_add", "user_password", "user_role", "user_remove"];

export async function render(main, { arg }) {
  const params = new URLSearchParams(arg || "");
  const action = el("select", { name: "action", "aria-label": t("audit.action"), onchange: () => {
    location.hash = "#/audit/" + new URLSearchParams(action.value ? { action: action.value } : {}).toString();
  } }, el("option", { value: "" }, t("audit.any")), ...ACTIONS.map((name) => el("option", { value: name }, label(name))));
  action.value = params.get("action") ?? "";
  const body = el("tbody");
  const more = el("button", { type: "button", class: "more", hidden: true }, t("audit.more"));
  let before = null;
  const load = async () => {
    const page = await api("/api/v2/audit" + query({ action: action.value, before_id: before, limit: 50 }));
    body.append(...page.items.map(entryRow));
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 6 }, t("audit.none"))));
    before = page.next_before_id;
    more.hidden = before === null;
  };
  more.addEventListener("click", load);
  main.append(el("h1", {}, t("audit.title")), el("p", {}, action),
    el("div", { class: "scroll" }, el("table", { class: "audit" },
      el("thead", {}, el("tr", {}, ...["col.time", "audit.action", "audit.actor", "audit.address", "audit.target", "audit.detail"]
        .map((key) => el("th", { scope: "col" }, t(key))))), body)), more);
  await load();
}

function label(name) {
  const text = t(`action.${name}`);
  return text === `action.${name}` ? name : text;
}

function entryRow(entry) {
  const detail = Object.keys(entry.detail).length ? JSON.stringify(entry.detail) : "";
  return el("tr", { dataset: { action: entry.action } },
    el("td", {}, el("time", { datetime: entry.at }, when(entry.at))),
    el("td", {}, label(entry.action)),
    el("td", {}, `${entry.actor} (${entry.actor_kind})`),
    el("td", { class: "mono" }, entry.address ?? "—"),
    el("td", {}, entry.target ?? "—"),
    el("td", { class: "mono detail" }, detail));
}
