import { textParams } from "../access.js";
import { api, query } from "../api.js";
import { el } from "../dom.js";
import { t, when } from "../i18n.js";
import { exportLinks } from "./device.js";
import { eraseButton } from "../erasure.js";
import { jumpToNow } from "../jump.js";

const KINDS = { 1: "user", 2: "agent", 3: "tool" };

export async function render(main, { feed, arg: sessionId }) {
  const shown = new Set();
  const pending = [];
  let loaded = false;
  const list = el("ol", { class: "conversation", "aria-live": "polite" });
  const marker = el("button", { class: "new-marker", type: "button", hidden: true, onclick: () => toBottom() }, t("newMessages"));

  const nearBottom = () => window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  const toBottom = () => { window.scrollTo(0, document.body.scrollHeight); marker.hidden = true; };
  const add = (message, live) => {
    if (shown.has(message.id)) return;
    shown.add(message.id);
    const follow = !live || nearBottom();
    list.append(bubble(message));
    if (live && !follow) marker.hidden = false;
    else if (live) toBottom();
  };
  // Listen before loading: what arrives meanwhile is applied after, by id, never twice.
  const off = feed?.on("chat_update", (message) => {
    if (message.session_id !== sessionId) return;
    if (loaded) add(message, true); else pending.push(message);
  });
  const onScroll = () => { if (nearBottom()) marker.hidden = true; };
  window.addEventListener("scroll", onScroll);

  const page = await api(`/api/v2/sessions/${encodeURIComponent(sessionId)}/messages` + query(textParams()));
  const session = page.session;
  main.append(
    el("p", {}, el("a", { href: `#/device/${encodeURIComponent(session.device)}` }, "← " + t("back"))),
    el("h1", {}, session.title || t("untitled")),
    el("p", { class: "meta" }, `${session.device} · ${when(session.first_message_at)}`),
    el("div", { class: "tools" }, exportLinks({ session: sessionId }), eraseButton("session", sessionId, () => {
      location.hash = session.device ? `#/device/${encodeURIComponent(session.device)}` : "#/devices";
    })),
    list, marker);
  page.items.forEach((m) => add(m, false));
  loaded = true;
  pending.forEach((m) => add(m, true));
  const offJump = jumpToNow(main);
  return () => { off?.(); offJump(); window.removeEventListener("scroll", onScroll); };
}

function bubble(message) {
  const kind = KINDS[message.chat_type] ?? "tool";
  const body = kind === "tool" && message.tool ? toolBody(message.tool) : el("p", { class: "text" }, message.content);
  return el("li", { class: `bubble ${kind}`, dataset: { id: message.id } },
    el("span", { class: "who" }, t(`speaker.${message.chat_type}`)),
    body,
    el("time", { datetime: message.created_at }, when(message.created_at)),
    message.audio_id ? player(message.audio_id) : null);
}

function toolBody(tool) {
  if (tool.kind === "call") {
    return el("div", { class: "tool-call" }, el("strong", {}, `${t("tool.call")}: ${tool.name}`),
      el("pre", {}, JSON.stringify(tool.arguments, null, 1) ?? ""));
  }
  const result = typeof tool.result === "string" ? tool.result : JSON.stringify(tool.result, null, 1);
  return el("div", { class: "tool-result" }, el("strong", {}, t("tool.result")), el("pre", {}, result ?? ""));
}

function player(audioId) {
  const button = el("button", { type: "button", class: "play", onclick: () => {
    button.replaceWith(el("audio", { controls: true, autoplay: true, src: `/api/v2/audio/${encodeURIComponent(audioId)}` }));
  } }, "▶ " + t("play"));
  return button;
}
