// Stars, notes and tags: the panel of a session, notes on its messages, badges in lists and
// the filters lists and search share. Every change goes through the API (audited there).

import { can } from "./access.js";
import { api } from "./api.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";

const sessionPath = (id) => `/api/v2/sessions/${encodeURIComponent(id)}`;

// "投诉, weather，好" → ["投诉", "weather", "好"]
export function parseTags(text) {
  return [...new Set(text.split(/[,，]/).map((tag) => tag.trim()).filter(Boolean))];
}

// A session's star, tags and note (and, for admins, its share link), above its conversation.
export async function marksPanel(sessionId) {
  const marks = await api(sessionPath(sessionId) + "/marks");
  const status = el("span", { class: "marks-status", role: "status" });
  const star = el("button", { type: "button", class: "star", "aria-pressed": String(marks.starred) });
  const showStar = (on) => {
    star.setAttribute("aria-pressed", String(on));
    star.textContent = on ? "★ " + t("marks.starred") : "☆ " + t("marks.star");
  };
  showStar(marks.starred);
  star.addEventListener("click", async () => {
    const on = star.getAttribute("aria-pressed") !== "true";
    const saved = await api(sessionPath(sessionId) + "/marks", { method: "PATCH", body: JSON.stringify({ starred: on }) });
    showStar(saved.starred);
  });
  const tags = el("input", { class: "tags", name: "tags", value: marks.tags.join(", "), placeholder: t("marks.tagsHint") });
  const note = el("textarea", { class: "note", name: "note", rows: 2, maxlength: 4000 });
  note.value = marks.note ?? "";
  const form = el("form", { class: "marks-form", onsubmit: async (event) => {
    event.preventDefault();
    status.textContent = "";
    try {
      const saved = await api(sessionPath(sessionId) + "/marks", { method: "PATCH",
        body: JSON.stringify({ note: note.value.trim() || null, tags: parseTags(tags.value) }) });
      tags.value = saved.tags.join(", ");
      status.textContent = t("marks.saved");
    } catch (failure) {
      status.textContent = `${t("marks.failed")}: ${failure.message}`;
    }
  } },
  el("label", {}, t("marks.tags"), " ", tags),
  el("label", {}, t("marks.note"), " ", note),
  el("button", { type: "submit" }, t("marks.save")), status);
  return el("section", { class: "marks", "aria-label": t("marks.title") }, star, form, can("share") ? sharePanel(sessionId) : null);
}

function sharePanel(sessionId) {
  const days = el("select", { name: "days", "aria-label": t("share.days") },
    ...[1, 7, 30, 90].map((n) => el("option", { value: n, selected: n === 7 }, t("share.daysN").replace("{n}", n))));
  const result = el("p", { class: "share-result", role: "status" });
  const create = el("button", { type: "button", class: "share" }, t("share.create"));
  create.addEventListener("click", async () => {
    const made = await api(sessionPath(sessionId) + "/share", { method: "POST", body: JSON.stringify({ expires_in_days: Number(days.value) }) });
    const url = new URL(made.url, location.origin).href;
    const field = el("input", { class: "share-url", readonly: true, value: url, "aria-label": t("share.url") });
    const copy = el("button", { type: "button", class: "copy", onclick: async () => {
      field.select();
      await navigator.clipboard?.writeText(url).catch(() => null);
      copy.textContent = t("share.copied");
    } }, t("share.copy"));
    result.replaceChildren(field, copy, el("span", { class: "meta" }, " " + t("share.once")));
  });
  return el("div", { class: "share-panel" }, create, " ", days, result);
}

// Notes and tags on each message bubble (li[data-id]) of a conversation, now and as
// bubbles arrive; the session's marks say which messages already carry some.
export async function messageMarks(list, sessionId) {
  const { messages } = await api(sessionPath(sessionId) + "/marks");
  const known = new Map(messages.map((m) => [String(m.message_id), m]));
  const decorate = (bubble) => {
    if (!bubble.dataset?.id || bubble.querySelector(":scope > .message-marks")) return;
    bubble.append(messageMarksBox(bubble.dataset.id, known.get(bubble.dataset.id)));
  };
  list.querySelectorAll("li[data-id]").forEach(decorate);
  const observer = new MutationObserver((changes) => {
    for (const change of changes) change.addedNodes.forEach((node) => node.nodeType === 1 && node.matches("li[data-id]") && decorate(node));
  });
  observer.observe(list, { childList: true });
  return () => observer.disconnect();
}

function messageMarksBox(messageId, mark) {
  const box = el("div", { class: "message-marks" });
  const show = (current) => {
    const edit = el("button", { type: "button", class: "edit-note", "aria-label": t("marks.editMessage"), title: t("marks.editMessage") }, "✎");
    edit.addEventListener("click", () => box.replaceChildren(editor(current)));
    const note = current?.note ? el("p", { class: "message-note" }, current.note) : "";
    box.replaceChildren(...tagChips(current?.tags ?? []), note, edit);
  };
  const editor = (current) => {
    const note = el("textarea", { class: "note", rows: 2, maxlength: 4000, "aria-label": t("marks.note") });
    note.value = current?.note ?? "";
    const tags = el("input", { class: "tags", value: (current?.tags ?? []).join(", "), placeholder: t("marks.tagsHint"), "aria-label": t("marks.tags") });
    const error = el("span", { class: "error", role: "alert" });
    return el("form", { class: "message-marks-form", onsubmit: async (event) => {
      event.preventDefault();
      try {
        show(await api(`/api/v2/messages/${messageId}/marks`, { method: "PATCH",
          body: JSON.stringify({ note: note.value.trim() || null, tags: parseTags(tags.value) }) }));
      } catch (failure) {
        error.textContent = failure.message;
      }
    } }, note, tags, el("button", { type: "submit" }, t("marks.save")),
    el("button", { type: "button", class: "cancel", onclick: () => show(current) }, t("erase.cancel")), error);
  };
  show(mark);
  return box;
}

export function tagChips(tags) {
  return tags.map((tag) => el("span", { class: "tag" }, tag));
}

// ★ and tags beside a session's title in a list.
export function markBadges(session) {
  return [session.starred ? el("span", { class: "star-badge", title: t("marks.starred"), "aria-label": t("marks.starred") }, "★") : null,
    ...tagChips(session.tags ?? [])];
}

// Star and tag filters for a form: controls, and the values they hold.
export async function markFilters(params) {
  const starred = el("select", { name: "starred", "aria-label": t("marks.filterStar") },
    el("option", { value: "" }, t("marks.anyStar")),
    el("option", { value: "true" }, "★ " + t("marks.onlyStarred")),
    el("option", { value: "false" }, t("marks.notStarred")));
  starred.value = params.get("starred") ?? "";
  const known = await api("/api/v2/tags").catch(() => ({ items: [] }));
  const list = el("datalist", { id: "known-tags" }, ...known.items.map((item) => el("option", { value: item.tag })));
  const tag = el("input", { name: "tag", list: "known-tags", value: params.get("tag") ?? "", placeholder: t("marks.tag"), "aria-label": t("marks.tag") });
  return { controls: [starred, tag, list], values: () => ({ starred: starred.value, tag: tag.value.trim() }) };
}

// The query parameters of those filters, from a view's params.
export function markParams(params) {
  return { starred: params.get("starred"), tag: params.get("tag") };
}

