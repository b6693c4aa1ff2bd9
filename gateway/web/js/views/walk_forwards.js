// Walk-forwards: the form (a sweep's grid plus the windows), the caller's jobs live, and a
// finished one's folds and stitched out-of-sample equity curve.

import { get } from "../api.js";
import { jobList, specForm, submitJob } from "../jobs.js";
import { equityChart, metricsTable } from "../report_parts.js";
import { errorBox, field, h, shortId, statusCell, table } from "../ui.js";

export async function renderList(view, { socket }) {
  const list = jobList({
    path: "/walk-forwards",
    kind: "walk_forward",
    socket,
    link: "#/walk-forwards",
    columns: [["Windows", (j) => `${j.spec.in_sample} / ${j.spec.out_of_sample}${j.spec.anchored ? ", anchored" : ""}`]],
    emptyText: "No walk-forwards yet: submit one above.",
  });
  const inSample = h("input", { id: "wf-in", value: "30d", required: true });
  const outSample = h("input", { id: "wf-out", value: "7d", required: true });
  const anchored = h("input", { id: "wf-anchored", type: "checkbox" });
  const form = await specForm({
    mode: "grid",
    idPrefix: "wf",
    submitLabel: "Run walk-forward",
    extra: [
      {
        element: h("div", { class: "fields" }, field("In-sample window", inSample, "e.g. 30d, 12h, 6mo"), field("Out-of-sample window", outSample), h("label", { class: "check" }, anchored, "Anchored")),
        value: () => ({ in_sample: inSample.value.trim(), out_of_sample: outSample.value.trim(), anchored: anchored.checked }),
      },
    ],
    onSubmit: async (body) => {
      await submitJob("/walk-forwards", body);
      await list.refresh();
    },
  });
  view.append(
    h("h1", {}, "Walk-forwards"),
    h("section", { class: "panel", "aria-label": "New walk-forward" }, h("h2", {}, "New walk-forward"), form),
    h("section", { class: "panel", "aria-label": "Your walk-forwards" }, h("h2", {}, "Your walk-forwards"), list.element),
  );
  return list.stop;
}

const cellText = (v) => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));

export async function renderOne(view, { socket }, id) {
  const path = `/walk-forwards/${id}`;
  const status = h("span", { id: "job-status" });
  const body = h("div");
  view.append(h("h1", {}, `Walk-forward ${shortId(id)} `, status), body);
  async function draw() {
    const job = await get(path);
    status.dataset.status = job.status;
    status.replaceChildren(statusCell(job));
    if (job.status !== "succeeded") {
      body.replaceChildren(job.error ? errorBox(job.error) : h("p", { class: "hint" }, "The folds and the stitched curve appear here when every fold has finished."));
      return;
    }
    const summary = job.summary || {};
    const folds = summary.folds || [];
    const keys = [...new Set(folds.flatMap((f) => Object.keys(f)))];
    body.replaceChildren(
      h("p", {}, `Out of sample: initial cash ${summary.initial_cash ?? ""}, final equity ${summary.final_equity ?? ""}, objective ${summary.objective ?? ""}.`),
      await equityChart(path, "Stitched out-of-sample equity and drawdown"),
      h("section", { class: "panel", "aria-label": "Folds" }, h("h2", {}, "Folds"), table(keys.map((k) => [k, (f) => cellText(f[k])]), folds, "No folds.")),
      h("section", { class: "panel", "aria-label": "Metrics" }, h("h2", {}, "Stitched metrics"), metricsTable(summary.metrics)),
    );
  }
  const finished = (event) => event.job_id === id && ["job.succeeded", "job.failed", "job.cancelled", "job.progress", "job.running"].includes(event.type);
  const off = socket.on((event) => finished(event) && draw());
  const offReconnect = socket.onReconnect(draw);
  await draw();
  return () => (off(), offReconnect());
}
