// Erasing a session's or a device's history: a button that asks first, naming what will go
// and how much (from the API's preview), then erases and says what went.

import { api } from "./api.js";
import { el } from "./dom.js";
import { lang, t } from "./i18n.js";

export function eraseButton(kind, id, onErased) {
  return el("button", { type: "button", class: "danger erase", onclick: () => ask(kind, id, onErased) }, t("erase.button"));
}

async function ask(kind, id, onErased) {
  const path = `/api/v2/${kind}s/${encodeURIComponent(id)}`;
  const preview = await api(path + "/erasure");
  const question = el("p", { id: "erasure-question" }, sentence("erase.question", preview.target, preview.would_erase));
  const error = el("p", { class: "error", role: "alert" });
  const cancel = el("button", { type: "button", class: "cancel" }, t("erase.cancel"));
  const confirm = el("button", { type: "button", class: "danger confirm" }, t("erase.confirm"));
  const dialog = el("dialog", { class: "erasure", "aria-labelledby": "erasure-question" },
    question, el("p", { class: "meta" }, t("erase.irreversible")), error, el("p", { class: "actions" }, cancel, confirm));
  let erased = null;
  cancel.addEventListener("click", () => dialog.close());
  confirm.addEventListener("click", async () => {
    if (erased) return dialog.close();
    confirm.disabled = cancel.disabled = true;
    try {
      erased = await api(path, { method: "DELETE" });
    } catch (failure) {
      error.textContent = `${t("erase.failed")}: ${failure.message}`;
      confirm.disabled = cancel.disabled = false;
      return;
    }
    question.textContent = sentence("erase.done", erased.target, erased.erased);
    cancel.hidden = true;
    confirm.disabled = false;
    confirm.className = "done";
    confirm.textContent = t("erase.close");
    confirm.focus();
  });
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (erased) onErased(erased);
  });
  document.body.append(dialog);
  dialog.showModal();
}

// "Erase 3 sessions, 57 messages and 12 audio clips of device 客厅 (a0:85:…)?"
function sentence(key, target, counts) {
  return t(key).replace("{amounts}", amounts(counts)).replace("{target}", named(target));
}

function named(target) {
  const kind = t(`erase.kind.${target.kind}`);
  if (!target.label) return `${kind} ${target.id}`;
  return lang() === "zh" ? `${kind} ${target.label}（${target.id}）` : `${kind} ${target.label} (${target.id})`;
}

function amounts(counts) {
  if (lang() === "zh") return `${counts.sessions} 个会话、${counts.messages} 条消息和 ${counts.audio} 段录音`;
  const n = (count, noun) => `${count} ${noun}${count === 1 ? "" : "s"}`;
  return `${n(counts.sessions, "session")}, ${n(counts.messages, "message")} and ${n(counts.audio, "audio clip")}`;
}
