// Small DOM helpers: every view builds elements with `h`, never from HTML strings, so text
// from the API (errors, names) is shown as text and never parsed as markup.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const empty = (text) => h("p", { class: "empty" }, text);

export function errorBox(error) {
  return h("div", { class: "error", role: "alert" }, error && error.message ? error.message : String(error));
}

// A table: `columns` are [header, (row) => cell, {num: true}?]; an empty list shows `emptyText`.
export function table(columns, rows, emptyText, caption) {
  if (!rows.length) return empty(emptyText);
  // Focusable, so a keyboard can scroll a table wider than the screen.
  return h(
    "div",
    { class: "table-wrap", tabindex: "0" },
    h(
      "table",
      {},
      caption ? h("caption", { class: "hint" }, caption) : null,
      h("thead", {}, h("tr", {}, columns.map(([title, , o]) => h("th", { scope: "col", class: o && o.num ? "num" : null }, title)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell, o]) => h("td", { class: o && o.num ? "num" : null }, cell(row)))))),
    ),
  );
}

export function statusCell(job) {
  const label = h("span", { class: `status-${job.status}` }, job.status);
  if (job.status === "running" || job.status === "queued") {
    const pct = Math.round((job.progress || 0) * 100);
    return h("span", { class: "row" }, label, h("progress", { max: 100, value: pct, "aria-label": `progress ${pct}%` }), `${pct}%`);
  }
  return label;
}

export const shortId = (id) => String(id).slice(0, 8);
export const when = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC").replace("+00:00", " UTC") : "");

export function metricText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(6);
  return String(value);
}

// A file download built in the page (no round trip): the trades CSV, for example.
export function download(name, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function field(label, input, hint) {
  return h("label", {}, label, input, hint ? h("span", { class: "hint" }, hint) : null);
}
