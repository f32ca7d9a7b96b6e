// Users (admins only): add one, change a role or a password, remove one. The server
// refuses what may not be done (the last admin, a taken name) and says why.

import { api } from "../api.js";
import { el } from "../dom.js";
import { t, when } from "../i18n.js";

const ROLES = ["viewer", "admin"];

export async function render(main) {
  const error = el("p", { class: "error", role: "alert" });
  const notice = el("p", { class: "notice", role: "status" });
  const body = el("tbody");
  const refresh = async () => {
    const list = await api("/api/v2/users");
    body.replaceChildren(...list.items.map((user) => userRow(user, { error, notice, refresh })));
  };
  main.append(
    el("h1", {}, t("users.title")),
    addForm({ error, notice, refresh }),
    error, notice,
    el("div", { class: "scroll" }, el("table", { class: "users" },
      el("thead", {}, el("tr", {}, ...["users.name", "users.role", "users.changed", "users.actions"]
        .map((key) => el("th", { scope: "col" }, t(key))))), body)));
  await refresh();
}

function roleSelect(value, attrs = {}) {
  const select = el("select", attrs, ...ROLES.map((role) => el("option", { value: role }, t(`role.${role}`))));
  select.value = value;
  return select;
}

// Runs a change; its failure message (from the server) goes to the error line.
async function attempt(change, { error, notice, refresh }, done) {
  error.textContent = "";
  notice.textContent = "";
  try {
    await change();
    notice.textContent = done;
  } catch (failure) {
    error.textContent = failure.message;
  }
  await refresh();
}

function addForm(context) {
  const name = el("input", { name: "new-username", required: true, maxlength: 64, "aria-label": t("users.name"), placeholder: t("users.name"), autocomplete: "off" });
  const role = roleSelect("viewer", { name: "new-role", "aria-label": t("users.role") });
  const password = el("input", { name: "new-password", type: "password", required: true, minlength: 8, "aria-label": t("login.password"), placeholder: t("login.password"), autocomplete: "new-password" });
  return el("form", { class: "add-user", onsubmit: async (event) => {
    event.preventDefault();
    const body = JSON.stringify({ username: name.value, role: role.value, password: password.value });
    await attempt(() => api("/api/v2/users", { method: "POST", body }), context, `${t("users.added")}: ${name.value}`);
    if (!context.error.textContent) event.target.reset();
  } }, name, role, password, el("button", { type: "submit" }, t("users.add")));
}

function userRow(user, context) {
  const path = `/api/v2/users/${encodeURIComponent(user.username)}`;
  const role = roleSelect(user.role, { "aria-label": `${t("users.role")} ${user.username}`, onchange: () => attempt(
    () => api(path, { method: "PATCH", body: JSON.stringify({ role: role.value }) }), context, `${user.username}: ${t(`role.${role.value}`)}`) });
  const password = el("input", { type: "password", minlength: 8, hidden: true, "aria-label": `${t("users.newPassword")} ${user.username}`, autocomplete: "new-password" });
  const save = el("button", { type: "button", class: "save-password", hidden: true, onclick: () => attempt(
    () => api(path, { method: "PATCH", body: JSON.stringify({ password: password.value }) }), context, `${user.username}: ${t("users.passwordChanged")}`) }, t("users.save"));
  const change = el("button", { type: "button", class: "change-password", onclick: () => {
    change.hidden = true; password.hidden = false; save.hidden = false; password.focus();
  } }, t("users.setPassword"));
  const remove = el("button", { type: "button", class: "danger remove", onclick: () => {
    if (!window.confirm(t("users.confirmRemove").replace("{name}", user.username))) return;
    attempt(() => api(path, { method: "DELETE" }), context, `${t("users.removed")}: ${user.username}`);
  } }, t("users.remove"));
  return el("tr", { dataset: { username: user.username } },
    el("td", {}, user.username), el("td", {}, role), el("td", {}, when(user.updated_at)),
    el("td", { class: "actions" }, change, password, save, remove));
}
