// The REST client: the key from session storage as the bearer header, errors worded as the API
// words them (ApiError.message), money left as the decimal strings the API sends.

const KEY = "velocitas.key";

export const auth = {
  key: () => sessionStorage.getItem(KEY) || "",
  set: (key) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, body) {
    super(describeError(status, body));
    this.status = status;
    this.body = body;
  }
}

// FastAPI's shapes: {"detail": "text"}, {"detail": [{"loc": [...], "msg": "..."}]}, and the
// upload's {"message", "detail": [{"row", "column", "reason"}]}.
export function describeError(status, body) {
  if (body && typeof body === "object") {
    if (typeof body.message === "string") return body.message;
    const detail = body.detail;
    if (typeof detail === "string") return detail;
    if (detail && typeof detail.message === "string") return detail.message;
    if (Array.isArray(detail)) {
      return detail
        .map((d) => (d.loc ? `${d.loc.filter((p) => p !== "body").join(".")}: ${d.msg}` : d.msg || JSON.stringify(d)))
        .join("\n");
    }
  }
  if (typeof body === "string" && body) return `${status}: ${body.slice(0, 300)}`;
  return `request failed with status ${status}`;
}

export async function request(method, path, { body, query, headers = {}, raw = false } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const init = { method, headers: { Authorization: `Bearer ${auth.key()}`, ...headers } };
  if (body !== undefined) {
    if (typeof body === "string" || body instanceof Blob) {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
  }
  const response = await fetch(url, init);
  const type = response.headers.get("content-type") || "";
  const parsed = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401) window.dispatchEvent(new CustomEvent("velocitas:unauthorized", { detail: error.message }));
    throw error;
  }
  return raw ? { status: response.status, body: parsed, headers: response.headers } : parsed;
}

export const get = (path, query) => request("GET", path, { query });
export const post = (path, body, query) => request("POST", path, { body, query });

// Every page of a cursor-paged list (`next_after` or `next_cursor`), up to `max` items.
export async function allPages(path, query = {}, max = 100000) {
  const items = [];
  let page = await get(path, query);
  items.push(...page.items);
  while (items.length < max && (page.next_after ?? page.next_cursor) != null) {
    const next = page.next_after != null ? { after: page.next_after } : { cursor: page.next_cursor };
    page = await get(path, { ...query, ...next });
    items.push(...page.items);
  }
  return items;
}
