// Same-origin calls to /api and /auth. A 401 triggers one silent token refresh and one retry.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let refreshing = null;

// Refresh tokens rotate: presenting one twice revokes the session, so every caller
// on this page shares the one refresh in flight.
// Resolves to "ok", "denied" (log in again) or "offline" (try later).
export function refreshSession() {
  if (!refreshing) {
    refreshing = fetch("/auth/refresh", {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then((response) => (response.ok ? "ok" : response.status === 401 ? "denied" : "offline"))
      .catch(() => "offline")
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

export function goToLogin() {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

// `body`: sent as JSON, or as it is when FormData (multipart, with the browser's boundary).
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  for (let attempt = 0; ; attempt += 1) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined || form ? body : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "offline", "You appear to be offline.");
    }
    if (response.status === 401) {
      const outcome = attempt === 0 ? await refreshSession() : "denied";
      if (outcome === "ok") continue;
      if (outcome === "denied") goToLogin();
      throw new ApiError(401, "unauthorized", "Your session has ended.");
    }
    const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = data && data.error ? data.error : {};
      throw new ApiError(response.status, error.code || "error", error.message || "Something went wrong.");
    }
    return data;
  }
}
