// The public REST API, with the session cookie. A 401 sends the reader to sign in.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    headers: options.body ? { "Content-Type": "application/json" } : {},
    ...options,
  });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    if (response.status === 401) window.dispatchEvent(new Event("xiaozhi:signed-out"));
    throw new ApiError(response.status, body?.error?.message ?? response.statusText);
  }
  return body;
}

export function query(params) {
  const entries = Object.entries(params).filter(([, value]) => value !== "" && value != null);
  return entries.length ? "?" + new URLSearchParams(entries).toString() : "";
}
