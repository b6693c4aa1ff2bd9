// Sweeps: the grid form (each parameter a list of values), the caller's sweeps live, and a
// finished sweep's ranked table and heatmap of the objective over two parameters.

import { get } from "../api.js";
import { jobList, specForm, submitJob } from "../jobs.js";
import { empty, errorBox, field, h, metricText, shortId, statusCell, table } from "../ui.js";

const OBJECTIVES = ["sharpe", "sortino", "calmar", "total_return", "profit_factor", "max_drawdown"];

export async function renderList(view, { socket }) {
  const list = jobList({
    path: "/sweeps",
    kind: "sweep",
    socket,
    link: "#/sweeps",
    columns: [["Strategy", (j) => ((j.spec.base && (j.spec.base.legs || [j.spec.base])[0].strategy) || {}).name || ""]],
    emptyText: "No sweeps yet: submit one above.",
  });
  const objective = h("select", { id: "sw-objective" }, OBJECTIVES.map((o) => h("option", { value: o }, o)));
  const direction = h("select", { id: "sw-direction" }, h("option", { value: "maximize" }, "maximize"), h("option", { value: "minimize" }, "minimize"));
  const form = await specForm({
    mode: "grid",
    idPrefix: "sw",
    submitLabel: "Run sweep",
    extra: [{ element: h("div", { class: "fields" }, field("Objective", objective), field("Direction", direction)), value: () => ({ objective: objective.value, direction: direction.value }) }],
    onSubmit: async (body) => {
      await submitJob("/sweeps", body);
      await list.refresh();
    },
  });
  view.append(
    h("h1", {}, "Sweeps"),
    h("section", { class: "panel", "aria-label": "New sweep" }, h("h2", {}, "New sweep"), h("p", { class: "hint" }, "Give each parameter to vary a comma-separated list; the others keep their defaults. At most 1000 combinations."), form),
    h("section", { class: "panel", "aria-label": "Your sweeps" }, h("h2", {}, "Your sweeps"), list.element),
  );
  return list.stop;
}

export async function renderOne(view, { socket }, id) {
  const status = h("span", { id: "job-status" });
  const body = h("div");
  view.append(h("h1", {}, `Sweep ${shortId(id)} `, status), body);
  async function draw() {
    const job = await get(`/sweeps/${id}`);
    status.dataset.status = job.status;
    status.replaceChildren(statusCell(job));
    if (job.status !== "succeeded") {
      body.replaceChildren(job.error ? errorBox(job.error) : h("p", { class: "hint" }, "The ranking appears here when every run has finished."));
      return;
    }
    const summary = job.summary || {};
    const metric = summary.rank_by || "sharpe";
    const ranking = summary.ranking || [];
    const names = Object.keys(job.spec.grid || {});
    body.replaceChildren(
      h("section", { class: "panel", "aria-label": "Heatmap" }, h("h2", {}, `Heatmap of ${metric}`), heatmap(ranking, names, metric)),
      h(
        "section",
        { class: "panel", "aria-label": "Ranking" },
        h("h2", {}, `Ranking by ${metric}`),
        table(
          [
            ["Rank", (r) => r.rank, { num: true }],
            ...names.map((n) => [n, (r) => String(r.params[n]), { num: true }]),
            [metric, (r) => metricText(r[metric]), { num: true }],
            ["Final equity", (r) => r.final_equity ?? "", { num: true }],
            ["Run", (r) => h("a", { href: `#/backtests/${r.job_id}` }, shortId(r.job_id))],
          ],
          ranking,
          "No run succeeded.",
        ),
      ),
    );
    if ((summary.failed || []).length) {
      body.append(h("section", { class: "panel" }, h("h2", {}, "Failed runs"), table([["Params", (r) => JSON.stringify(r.params)], ["Error", (r) => r.error || r.status]], summary.failed, "")));
    }
  }
  const off = socket.on((event) => event.job_id === id && (event.type === "job.progress" || event.type.startsWith("job.")) && draw());
  const offReconnect = socket.onReconnect(draw);
  await draw();
  return () => (off(), offReconnect());
}

// The objective over two varied parameters (the best value where other parameters vary too):
// a table, so every cell is readable text as well as a colour.
function heatmap(ranking, names, metric) {
  const varied = names.filter((n) => new Set(ranking.map((r) => String(r.params[n]))).size > 1);
  if (!ranking.length) return empty("No run succeeded: nothing to map.");
  const holder = h("div", { id: "heatmap" });
  const xName = h("select", { id: "hm-x", "aria-label": "Columns" }, varied.map((n) => h("option", { value: n }, n)));
  const yName = h("select", { id: "hm-y", "aria-label": "Rows" }, varied.map((n, i) => h("option", { value: n, selected: i === 1 }, n)));
  function draw() {
    const x = xName.value || varied[0];
    const y = varied.length > 1 ? yName.value : null;
    const key = (v) => (typeof v === "number" ? v : String(v));
    const sortValues = (values) => [...new Set(values)].sort((a, b) => (typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b))));
    const xs = sortValues(ranking.map((r) => key(r.params[x])));
    const ys = y ? sortValues(ranking.map((r) => key(r.params[y]))) : [""];
    const cells = new Map();
    for (const r of ranking) {
      const value = r[metric];
      if (typeof value !== "number") continue;
      const at = `${key(r.params[x])}|${y ? key(r.params[y]) : ""}`;
      if (!cells.has(at) || value > cells.get(at)) cells.set(at, value);
    }
    const values = [...cells.values()];
    const low = Math.min(...values);
    const high = Math.max(...values);
    const colour = (v) => {
      const t = high > low ? (v - low) / (high - low) : 0.5;
      return `hsl(${Math.round(t * 120)}, 70%, 78%)`;  // red (low) to green (high), light enough for dark text
    };
    holder.replaceChildren(
      h(
        "div",
        { class: "table-wrap", tabindex: "0" },
        h(
          "table",
          { class: "heatmap", dataset: { cells: String(cells.size) } },
          h("caption", { class: "hint" }, `${metric}: rows ${y || "(one row)"}, columns ${x}`),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, y ? `${y} \\ ${x}` : x), xs.map((v) => h("th", { scope: "col", class: "num" }, String(v))))),
          h(
            "tbody",
            {},
            ys.map((yv) =>
              h(
                "tr",
                {},
                h("th", { scope: "row" }, String(yv)),
                xs.map((xv) => {
                  const v = cells.get(`${xv}|${yv}`);
                  return v === undefined ? h("td", {}, "–") : h("td", { style: `background:${colour(v)}`, title: `${x}=${xv}${y ? `, ${y}=${yv}` : ""}: ${metricText(v)}` }, metricText(v));
                }),
              ),
            ),
          ),
        ),
      ),
    );
  }
  xName.addEventListener("change", draw);
  yName.addEventListener("change", draw);
  if (!varied.length) return empty("The grid varies no parameter: nothing to map.");
  draw();
  return h("div", {}, varied.length > 1 ? h("div", { class: "row" }, field("Columns", xName), field("Rows", yName)) : null, holder);
}
