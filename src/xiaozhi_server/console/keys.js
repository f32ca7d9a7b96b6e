// Keyboard shortcuts: j / k move to the next / previous session in a list, / goes to the
// search box (the page's own, else the search page). Never while typing in a field, and
// never with Ctrl, Alt or Meta (the browser's and the screen reader's own keys).

const SESSION_LINKS = 'main a[href^="#/session/"]';
const TYPING = "input, textarea, select, [contenteditable]:not([contenteditable='false'])";

function typing(target) {
  return target instanceof Element && target.closest(TYPING) !== null;
}

function step(direction) {
  const links = [...document.querySelectorAll(SESSION_LINKS)].filter((link) => link.getClientRects().length);
  if (!links.length) return;
  const at = links.indexOf(document.activeElement);
  const next = at === -1 ? (direction > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, at + direction));
  links[next].focus();
  links[next].scrollIntoView({ block: "nearest" });
}

function search() {
  const box = document.querySelector('main input[type="search"]');
  if (box) box.focus();
  else location.hash = "#/search";
}

export function installKeys() {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey || event.defaultPrevented || typing(event.target)) return;
    if (document.body.classList.contains("signed-out") || document.querySelector("dialog[open]")) return;
    if (event.key === "j" || event.key === "k") step(event.key === "j" ? 1 : -1);
    else if (event.key === "/") search();
    else return;
    event.preventDefault();
  });
}
