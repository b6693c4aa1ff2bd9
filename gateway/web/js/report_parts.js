// Pieces of a finished job's report shared by backtests and walk-forwards: the equity curve
// with its drawdown (downsampled by the server, extremes kept), metrics and P&L tables.

import { get } from "./api.js";
import { areaSeries, colors, createChart, lineSeries, toSeconds } from "./charts.js";
import { empty, h, metricText, table } from "./ui.js";

export const DISPLAY_POINTS = 4000;

// `path` is the job's resource (`/backtests/ID`); the chart's container gets `data-points`.
export async function equityChart(path, title) {
  const box = h("div", { class: "chart", role: "img", "aria-label": `${title}: equity (top) and drawdown (bottom)` });
  const holder = h("section", { class: "panel", "aria-label": title }, h("h2", {}, title), box);
  const curve = await get(`${path}/equity/display`, { points: DISPLAY_POINTS });
  if (!curve.items.length) {
    box.replaceWith(empty("No equity points were recorded."));
    return holder;
  }
  box.dataset.points = String(curve.items.length);
  box.dataset.total = String(curve.total);
  requestAnimationFrame(() => {
    const chart = createChart(box);
    const equity = lineSeries(chart, { title: "equity" });
    let peak = -Infinity;
    const drawdown = [];
    const points = curve.items.map((p) => {
      const value = Number(p.equity);
      peak = Math.max(peak, value);
      const time = toSeconds(p.opened_at);
      drawdown.push({ time, value: peak > 0 ? (value / peak - 1) * 100 : 0 });
      return { time, value };
    });
    equity.setData(points);
    const c = colors();
    const dd = areaSeries(chart, { lineColor: c.bad, topColor: `${c.bad}00`, bottomColor: `${c.bad}55`, title: "drawdown %" }, 1);
    dd.setData(drawdown);
    chart.timeScale().fitContent();
    box.dataset.drawn = "true";
  });
  if (curve.total > curve.items.length) {
    holder.append(h("p", { class: "hint" }, `${curve.total} points, drawn as ${curve.items.length} (each bucket's first, lowest, highest and last kept).`));
  }
  return holder;
}

export function metricsTable(metrics) {
  const rows = Object.entries(metrics || {});
  return table(
    [
      ["Metric", ([name]) => name],
      ["Value", ([, value]) => metricText(value), { num: true }],
    ],
    rows,
    "No metrics.",
  );
}

// P&L slices as the API sends them: exact decimal strings, shown untouched.
export function pnlTables(breakdown) {
  if (!breakdown) return empty("No P&L breakdown.");
  const slice = (title, entries) =>
    h(
      "div",
      {},
      h("h3", {}, title),
      table(
        [
          ["", ([name]) => name],
          ["Trades", ([, p]) => p.trades, { num: true }],
          ["Gross P&L", ([, p]) => p.gross_pnl, { num: true }],
          ["Fees", ([, p]) => p.fees, { num: true }],
          ["Net P&L", ([, p]) => p.net_pnl, { num: true }],
        ],
        entries,
        "No trades.",
      ),
    );
  return h(
    "div",
    { class: "grid", id: "pnl" },
    slice("Per leg", Object.entries(breakdown.by_leg || {}).map(([k, v]) => [`leg ${k}`, v])),
    slice("Per symbol", Object.entries(breakdown.by_symbol || {})),
    slice("Per strategy", Object.entries(breakdown.by_strategy || {})),
    slice("Overall", breakdown.overall ? [["all", breakdown.overall]] : []),
  );
}
