// "Jump to now" on a long conversation: a button that appears once the reader is more than
// a screen above the newest turn, and takes them there. Returns its cleanup.

import { el } from "./dom.js";
import { t } from "./i18n.js";

export function jumpToNow(parent) {
  const button = el("button", { type: "button", class: "jump-now", hidden: true, onclick: () => {
    window.scrollTo(0, document.documentElement.scrollHeight);
    button.hidden = true;
  } }, t("jump.now"));
  const check = () => {
    const below = document.documentElement.scrollHeight - (window.scrollY + window.innerHeight);
    button.hidden = below <= window.innerHeight;
  };
  parent.append(button);
  check();
  window.addEventListener("scroll", check, { passive: true });
  window.addEventListener("resize", check);
  return () => {
    window.removeEventListener("scroll", check);
    window.removeEventListener("resize", check);
  };
}
