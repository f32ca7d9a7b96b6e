import { api } from "../api.js";
import { el } from "../dom.js";
import { t } from "../i18n.js";

export async function render(main, { onSignedIn }) {
  const error = el("p", { class: "error", role: "alert" });
  const username = el("input", { name: "username", autocomplete: "username", required: true, id: "username" });
  const password = el("input", { name: "password", type: "password", autocomplete: "current-password", required: true, id: "password" });
  const form = el("form", { class: "login", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await api("/api/v2/auth/login", { method: "POST", body: JSON.stringify({ username: username.value, password: password.value }) });
      onSignedIn();
    } catch {
      error.textContent = t("login.failed");
    }
  } },
    el("h1", {}, t("login.title")),
    el("label", { for: "username" }, t("login.username")), username,
    el("label", { for: "password" }, t("login.password")), password,
    el("button", { type: "submit" }, t("login.submit")), error);
  main.append(form);
  username.focus();
}
