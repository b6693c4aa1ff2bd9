// What the backtest, sweep and walk-forward views share: the spec form generated from
// `GET /strategies` (no hand-written form per strategy) and the live list of the caller's jobs.

import { get, post } from "./api.js";
import { errorBox, field, h, shortId, statusCell, table, when } from "./ui.js";

let catalogue = null;

export async function strategies() {
  if (!catalogue) catalogue = await get("/strategies");
  return catalogue;
}

// Values typed in a parameter box become JSON values of the declared type.
function parseValue(param, text) {
  const kind = param.type;
  if (kind.includes("integer") && /^-?\d+$/.test(text)) return Number.parseInt(text, 10);
  if (kind.includes("number") && text !== "" && !Number.isNaN(Number(text))) return Number(text);
  if (kind === "boolean") return text === "true";
  if (kind === "array" || kind === "object") {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function paramInput(param, mode, id) {
  const bounds = [param.min != null ? `min ${param.min}` : null, param.max != null ? `max ${param.max}` : null].filter(Boolean).join(", ");
  const hint = [param.description, bounds].filter(Boolean).join(" · ");
  if (mode === "grid") {
    const input = h("input", { id, name: param.name, placeholder: `e.g. ${param.default ?? ""}`, inputmode: "decimal" });
    return field(`${param.name} values (comma-separated)`, input, hint);
  }
  if (param.type === "boolean") {
    const box = h("input", { id, name: param.name, type: "checkbox", checked: Boolean(param.default) });
    return h("label", { class: "check" }, box, param.name, h("span", { class: "hint" }, hint));
  }
  const numeric = param.type === "integer" || param.type === "number";
  const input = h("input", {
    id,
    name: param.name,
    type: numeric ? "number" : "text",
    step: param.type === "integer" ? "1" : "any",
    min: param.min ?? undefined,
    max: param.max ?? undefined,
    required: param.required,
    value: param.default == null ? "" : typeof param.default === "object" ? JSON.stringify(param.default) : String(param.default),
  });
  return field(param.name, input, hint);
}

// The spec form; `mode` is "single" (one backtest), "grid" (each parameter a list of values)
// and `extra` adds fields of the job kind (windows, objective). `submit(spec)` posts it.
export async function specForm({ mode = "single", idPrefix, extra = [], onSubmit, submitLabel }) {
  const [catalog, stored] = await Promise.all([strategies(), get("/series")]);
  const seriesSelect = h(
    "select",
    { id: `${idPrefix}-series`, required: true },
    stored.length ? stored.map((s) => h("option", { value: `${s.symbol} ${s.timeframe}`, dataset: { first: s.first_opened_at, last: s.last_opened_at } }, `${s.symbol} ${s.timeframe} (${s.bars} bars)`)) : h("option", { value: "" }, "no stored series"),
  );
  const start = h("input", { id: `${idPrefix}-start`, type: "datetime-local", required: true, step: 60 });
  const end = h("input", { id: `${idPrefix}-end`, type: "datetime-local", required: true, step: 60 });
  const cash = h("input", { id: `${idPrefix}-cash`, value: "10000", required: true, inputmode: "decimal", pattern: "\\d+(\\.\\d+)?" });
  const strategySelect = h("select", { id: `${idPrefix}-strategy` }, catalog.map((s) => h("option", { value: s.name }, s.name)));
  const about = h("p", { class: "hint" });
  const params = h("div", { class: "fields" });
  const problem = h("div", { "aria-live": "polite" });

  function spanFromSeries() {
    const option = seriesSelect.selectedOptions[0];
    if (!option || !option.dataset.first) return;
    start.value = option.dataset.first.slice(0, 16);
    // `end` is exclusive: one minute after the last bar keeps it in.
    end.value = new Date(Date.parse(option.dataset.last) + 60000).toISOString().slice(0, 16);
  }
  function drawParams() {
    const chosen = catalog.find((s) => s.name === strategySelect.value);
    about.textContent = chosen ? [chosen.description, ...chosen.constraints].join(" ") : "";
    params.replaceChildren(...(chosen ? chosen.params.map((p) => paramInput(p, mode, `${idPrefix}-param-${p.name}`)) : []));
  }
  seriesSelect.addEventListener("change", spanFromSeries);
  strategySelect.addEventListener("change", drawParams);
  spanFromSeries();
  drawParams();

  function spec() {
    const chosen = catalog.find((s) => s.name === strategySelect.value);
    const [symbol, timeframe] = seriesSelect.value.split(" ");
    const values = {};
    for (const p of chosen.params) {
      const input = params.querySelector(`[name="${p.name}"]`);
      if (mode === "grid") {
        const text = input.value.trim();
        if (text) values[p.name] = text.split(",").map((v) => parseValue(p, v.trim()));
      } else if (p.type === "boolean") {
        values[p.name] = input.checked;
      } else if (input.value !== "") {
        values[p.name] = parseValue(p, input.value);
      }
    }
    const base = {
      symbol,
      timeframe,
      start: `${start.value}:00Z`,
      end: `${end.value}:00Z`,
      initial_cash: cash.value.trim(),
      strategy: { name: chosen.name, params: mode === "grid" ? {} : values },
    };
    return mode === "grid" ? { base, grid: values } : base;
  }

  const form = h(
    "form",
    { class: "stack" },
    h(
      "div",
      { class: "fields" },
      field("Series", seriesSelect),
      field("Start (UTC)", start),
      field("End (UTC, exclusive)", end),
      field("Initial cash", cash),
      field("Strategy", strategySelect),
    ),
    about,
    params,
    extra.map((e) => e.element),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, submitLabel)),
    problem,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.replaceChildren();
    try {
      const body = spec();
      for (const e of extra) Object.assign(body, e.value());
      await onSubmit(body);
    } catch (error) {
      problem.replaceChildren(errorBox(error));
    }
  });
  return form;
}

// The caller's jobs at `path`, kept live by the socket's events for `kind`: a new job's events
// re-read the list, a known job's progress and status update its row in place.
export function jobList({ path, kind, socket, link, columns = [], emptyText }) {
  const holder = h("div", { id: `${kind}-jobs`, "aria-live": "polite" }, h("p", { class: "hint" }, "Loading…"));
  let jobs = [];
  function draw() {
    holder.replaceChildren(
      table(
        [
          ["Job", (j) => h("a", { href: `${link}/${j.id}`, dataset: { job: j.id } }, shortId(j.id))],
          ["Status", (j) => h("span", { dataset: { status: j.status, job: j.id } }, statusCell(j))],
          ...columns,
          ["Created", (j) => when(j.created_at)],
          ["Error", (j) => j.error || ""],
        ],
        jobs,
        emptyText,
      ),
    );
  }
  async function refresh() {
    try {
      jobs = (await get(path, { limit: 50 })).items;
      draw();
    } catch (error) {
      holder.replaceChildren(errorBox(error));
    }
  }
  const off = socket.on((event) => {
    if (!event.type || !event.type.startsWith("job.") || event.kind !== kind) return;
    const job = jobs.find((j) => j.id === event.job_id);
    if (!job) return refresh();
    job.status = event.status;
    job.progress = event.progress;
    if (event.error) job.error = event.error;
    if (event.summary) job.summary = event.summary;
    draw();
  });
  const offReconnect = socket.onReconnect(refresh);
  refresh();
  return { element: holder, refresh, stop: () => (off(), offReconnect()) };
}

export async function submitJob(path, body) {
  return post(path, body);
}
