// Who is signed in, what their role may do, and whether they asked to see text unmasked.
// The server decides every request; this only keeps the console from offering what a
// role may not do (export, users, audit) and passes unmask=true when an admin asks.

let me = null;
let unmasked = false;

export function setMe(value) {
  me = value;
  unmasked = false;
  document.body.dataset.role = me?.role ?? "";
  document.body.toggleAttribute("data-masking", Boolean(me?.masking?.length));
}

export function can(permission) {
  return Boolean(me?.permissions?.includes(permission));
}

export function masking() {
  return me?.masking ?? [];
}

export function isUnmasked() {
  return unmasked && can("unmask");
}

export function setUnmasked(value) {
  unmasked = Boolean(value) && can("unmask");
}

// Query parameters for routes that return chat text.
export function textParams() {
  return isUnmasked() ? { unmask: "true" } : {};
}
