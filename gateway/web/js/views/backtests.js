// Backtests: the form (generated from the strategy registry) and the caller's jobs, live.

import { jobList, specForm, submitJob } from "../jobs.js";
import { h } from "../ui.js";

export async function render(view, { socket }) {
  const list = jobList({
    path: "/backtests",
    kind: "backtest",
    socket,
    link: "#/backtests",
    columns: [
      ["Strategy", (j) => (j.spec.legs || [{ strategy: j.spec.strategy, symbol: j.spec.symbol }]).map((l) => `${l.symbol || ""} ${l.strategy ? l.strategy.name : ""}`).join(", ")],
      ["Final equity", (j) => (j.summary && j.summary.final_equity) || "", { num: true }],
    ],
    emptyText: "No backtests yet: submit one above.",
  });
  const form = await specForm({
    idPrefix: "bt",
    submitLabel: "Run backtest",
    onSubmit: async (spec) => {
      await submitJob("/backtests", spec);
      await list.refresh();
    },
  });
  view.append(
    h("h1", {}, "Backtests"),
    h("section", { class: "panel", "aria-label": "New backtest" }, h("h2", {}, "New backtest"), form),
    h("section", { class: "panel", "aria-label": "Your backtests" }, h("h2", {}, "Your backtests"), list.element),
  );
  return list.stop;
}
