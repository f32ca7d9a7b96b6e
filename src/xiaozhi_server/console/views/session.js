import { textParams } from "../access.js";
import { api, query } from "../api.js";
import { el } from "../dom.js";
import { t, when } from "../i18n.js";
import { groupTurns, responseParts } from "../turns.js";
import { exportLinks } from "./device.js";
import { eraseButton } from "../erasure.js";
import { marksPanel, messageMarks } from "../marks.js";
import { jumpToNow } from "../jump.js";

export async function render(main, { feed, arg: sessionId }) {
  const known = new Map();
  const pending = [];
  let loaded = false;
  const list = el("ol", { class: "conversation", "aria-live": "polite" });
  const marker = el("button", { class: "new-marker", type: "button", hidden: true, onclick: () => toBottom() }, t("newMessages"));

  const nearBottom = () => window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  const toBottom = () => { window.scrollTo(0, document.body.scrollHeight); marker.hidden = true; };
  const drawn = drawing();
  const redraw = () => reconcile(list, turnNodes(drawn, groupTurns([...known.values()])));
  const add = (messages, live) => {
    const fresh = messages.filter((m) => !known.has(m.id));
    if (!fresh.length) return;
    fresh.forEach((m) => known.set(m.id, m));
    const follow = !live || nearBottom();
    redraw();
    if (live && !follow) marker.hidden = false;
    else if (live) toBottom();
  };
  // Listen before loading: what arrives meanwhile is applied after, by id, never twice.
  const off = feed?.on("chat_update", (message) => {
    if (message.session_id !== sessionId) return;
    if (loaded) add([message], true); else pending.push(message);
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
    await marksPanel(sessionId),
    list, marker);
  add(page.items, false);
  loaded = true;
  add(pending, true);
  const unmark = await messageMarks(list, sessionId);
  const offJump = jumpToNow(main);
  return () => { off?.(); unmark(); offJump(); window.removeEventListener("scroll", onScroll); };
}

// What is drawn: a node per user turn and per reply part (by message), a bubble per reply
// (by turn key). A redraw keeps them, so a recording goes on playing while its reply grows.
function drawing() {
  return { parts: new Map(), replies: new Map() };
}

function turnNodes(drawn, turns) {
  return turns.map((turn) => turn.kind === "user"
    ? part(drawn, turn.messages[0], bubble)
    : replyNode(drawn, turn));
}

function part(drawn, message, draw) {
  if (!drawn.parts.has(message.id)) drawn.parts.set(message.id, draw(message));
  return drawn.parts.get(message.id);
}

// Put ``nodes`` in ``parent`` in order, moving or removing only what differs.
function reconcile(parent, nodes) {
  const wanted = new Set(nodes);
  for (const child of [...parent.children]) if (!wanted.has(child)) child.remove();
  let at = parent.firstElementChild;
  for (const node of nodes) {
    if (node === at) at = at.nextElementSibling;
    else parent.insertBefore(node, at);
  }
}

function replyNode(drawn, turn) {
  let reply = drawn.replies.get(turn.key);
  if (!reply) {
    reply = { who: el("span", { class: "who" }), parts: el("div", { class: "sentences" }), time: el("time") };
    reply.node = el("li", { dataset: { turn: turn.key } }, reply.who, reply.parts, reply.time);
    drawn.replies.set(turn.key, reply);
  }
  const first = turn.messages[0];
  const kind = turn.messages.some((m) => m.chat_type === 2) ? "agent" : "tool";
  reply.node.className = `bubble ${kind} reply`;
  reply.node.dataset.id = first.id;
  reply.who.replaceChildren(t(`speaker.${kind === "agent" ? 2 : 3}`), responseTime(turn.responseMs) ?? "");
  reconcile(reply.parts, turn.messages.map((m) => part(drawn, m, replyPart)));
  reply.time.dateTime = first.created_at;
  reply.time.textContent = when(first.created_at);
  return reply.node;
}

function replyPart(message) {
  if (message.chat_type !== 2) return toolPart(message);
  return el("span", { class: "sentence", dataset: { id: message.id } },
    el("span", { class: "text" }, message.content), message.audio_id ? player(message.audio_id) : null);
}

// A tool call or result, folded: its name shows, the arguments or result on opening.
function toolPart(message) {
  const tool = message.tool;
  const label = !tool ? t("speaker.3") : tool.kind === "call" ? `${t("tool.call")}: ${tool.name}` : t("tool.result");
  const klass = !tool ? "tool-raw" : tool.kind === "call" ? "tool-call" : "tool-result";
  return el("details", { class: `tool-part ${klass}`, dataset: { id: message.id } },
    el("summary", {}, label), tool ? toolBody(tool) : el("pre", {}, message.content));
}

function responseTime(ms) {
  const parts = responseParts(ms);
  if (!parts) return null;
  const text = parts.minutes !== undefined
    ? t("turns.responseMinutes").replace("{m}", parts.minutes).replace("{s}", parts.seconds)
    : t("turns.responseSeconds").replace("{s}", parts.seconds);
  return el("span", { class: "response-time", title: t("turns.responseTitle"), dataset: { ms } }, text);
}

function bubble(message) {
  return el("li", { class: "bubble user", dataset: { id: message.id, turn: `u${message.id}` } },
    el("span", { class: "who" }, t("speaker.1"), message.speaker ? [" · ", el("span", { class: "speaker" }, message.speaker)] : null),
    el("p", { class: "text" }, message.content),
    el("time", { datetime: message.created_at }, when(message.created_at)),
    message.audio_id ? player(message.audio_id) : null);
}

function toolBody(tool) {
  if (tool.kind === "call") return el("pre", {}, JSON.stringify(tool.arguments, null, 1) ?? "");
  const result = typeof tool.result === "string" ? tool.result : JSON.stringify(tool.result, null, 1);
  return el("pre", {}, result ?? "");
}

function player(audioId) {
  const button = el("button", { type: "button", class: "play", onclick: () => {
    button.replaceWith(el("audio", { controls: true, autoplay: true, src: `/api/v2/audio/${encodeURIComponent(audioId)}` }));
  } }, "▶ " + t("play"));
  return button;
}
