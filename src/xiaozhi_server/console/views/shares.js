// Every share link: which session, who made it, until when; revoke ends it at once.

import { api } from "../api.js";
import { el } from "../dom.js";
import { t, when } from "../i18n.js";

export async function render(main) {
  const page = await api("/api/v2/shares");
  const row = (share) => {
    const revoke = el("button", { type: "button", class: "danger revoke" }, t("shares.revoke"));
    const line = el("tr", { dataset: { share: share.id } },
      el("td", {}, el("a", { href: `#/session/${encodeURIComponent(share.session_id)}` }, share.title || share.session_id)),
      el("td", {}, share.created_by),
      el("td", {}, when(share.created_at)),
      el("td", {}, when(share.expires_at)),
      el("td", { class: `state ${share.expired ? "offline" : "online"}` }, t(share.expired ? "shares.expired" : "shares.active")),
      el("td", {}, revoke));
    revoke.addEventListener("click", async () => {
      await api(`/api/v2/shares/${encodeURIComponent(share.id)}`, { method: "DELETE" });
      line.remove();
      if (!main.querySelector("tr[data-share]")) table.replaceWith(empty());
    });
    return line;
  };
  const empty = () => el("p", { class: "empty" }, t("shares.none"));
  const table = el("div", { class: "scroll" }, el("table", { class: "shares" },
    el("thead", {}, el("tr", {}, ...["shares.session", "shares.by", "shares.created", "shares.expires", "shares.state", "users.actions"].map((key) => el("th", {}, t(key))))),
    el("tbody", {}, ...page.items.map(row))));
  main.append(el("h1", {}, t("shares.title")), el("p", { class: "meta" }, t("shares.explain")), page.items.length ? table : empty());
}
