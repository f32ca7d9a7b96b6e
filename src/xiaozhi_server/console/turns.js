// Whole turns: a session's messages as the conversation a person had, not as report rows.
//
// The core reports an agent reply one TTS sentence per row, and the reports arrive out of
// order (upstream issue 3066): messages are ordered by report time (created_at, then id),
// and everything between two user turns (agent sentences, tool calls and their results)
// is one reply. A reply's response time runs from its user turn to its first agent sentence.
// No DOM here: views/session.js draws what this returns.

const USER = 1;
const AGENT = 2;

// Report time first; the store id breaks ties the way the API orders them.
export function byReportTime(a, b) {
  const at = Date.parse(a.created_at) - Date.parse(b.created_at);
  return at !== 0 ? at : a.id - b.id;
}

// [{key, kind: "user" | "reply", messages, speaker, responseMs}] in conversation order.
// key stays the same while a turn grows: "u<id>" for a user turn, "r<id of the user turn
// it answers>" (or "r-start" before the first) for a reply.
export function groupTurns(messages) {
  const turns = [];
  let asked = null;
  for (const message of [...messages].sort(byReportTime)) {
    if (message.chat_type === USER) {
      asked = message;
      turns.push({ key: `u${message.id}`, kind: "user", messages: [message], speaker: message.speaker ?? null, responseMs: null });
      continue;
    }
    let reply = turns[turns.length - 1];
    if (!reply || reply.kind !== "reply") {
      reply = { key: asked ? `r${asked.id}` : "r-start", kind: "reply", messages: [], speaker: null, responseMs: null, asked };
      turns.push(reply);
    }
    reply.messages.push(message);
    if (message.chat_type === AGENT && reply.responseMs === null && reply.asked) {
      reply.responseMs = Date.parse(message.created_at) - Date.parse(reply.asked.created_at);
    }
  }
  return turns.map(({ asked: _asked, ...turn }) => turn);
}

// "0.8" / "12" seconds, or [minutes, seconds] from a minute on; null when unknown.
export function responseParts(ms) {
  if (ms === null || ms === undefined || ms < 0) return null;
  const seconds = ms / 1000;
  if (seconds < 10) return { seconds: seconds.toFixed(1) };
  if (seconds < 60) return { seconds: String(Math.round(seconds)) };
  const whole = Math.round(seconds);
  return { minutes: Math.floor(whole / 60), seconds: String(whole % 60) };
}
