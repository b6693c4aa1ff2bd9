// One backtest: live status while it runs (from the socket, no reload), then the report:
// equity and drawdown, candles with entry/exit markers, metrics, P&L per leg as the API's
// exact strings, the trades a page at a time, and the trades as CSV.

import { allPages, get, request } from "../api.js";
import { candle, candleSeries, colors, createChart, setMarkers, toSeconds } from "../charts.js";
import { equityChart, metricsTable, pnlTables } from "../report_parts.js";
import { download, empty, errorBox, h, shortId, statusCell, table, when } from "../ui.js";

const LADDER = [["1m", 60], ["5m", 300], ["15m", 900], ["30m", 1800], ["1h", 3600], ["4h", 14400], ["1d", 86400]];
const MAX_CANDLES = 5000;  // GET /history's largest page
const PAGE = 50;
const TRADE_COLUMNS = ["seq", "leg", "symbol", "strategy", "side", "quantity", "entry_at", "entry_price", "exit_at", "exit_price", "gross_pnl", "fees", "net_pnl", "exit_reason"];

export async function render(view, { socket }, id) {
  const path = `/backtests/${id}`;
  const status = h("span", { id: "job-status" });
  const body = h("div");
  view.append(h("h1", {}, `Backtest ${shortId(id)} `, status), body);
  let job = await get(path);

  function showStatus() {
    status.dataset.status = job.status;
    status.replaceChildren(statusCell(job));
  }
  showStatus();
  const off = socket.on((event) => {
    if (event.job_id !== id) return;
    job = { ...job, status: event.status, progress: event.progress, error: event.error ?? job.error };
    showStatus();
    if (event.type === "job.succeeded" || event.type === "job.failed" || event.type === "job.cancelled") reload();
  });
  const offReconnect = socket.onReconnect(reload);

  async function reload() {
    job = await get(path);
    showStatus();
    await draw();
  }

  async function draw() {
    if (job.status === "failed" || job.status === "cancelled") {
      body.replaceChildren(errorBox(job.error || job.status));
      return;
    }
    if (job.status !== "succeeded") {
      body.replaceChildren(h("p", { class: "hint" }, "The report appears here when the job finishes."));
      return;
    }
    const summary = job.summary || {};
    const started = performance.now();
    // The two charts' data are read at once: the curve, and the candles with the trades.
    const [equity, candles] = await Promise.all([equityChart(path, "Equity and drawdown"), candlesWithMarkers()]);
    body.replaceChildren(
      h("p", {}, `Initial cash ${summary.initial_cash ?? job.spec.initial_cash}, final equity `, h("strong", { id: "final-equity" }, summary.final_equity ?? ""), ` · engine ${job.engine_version || ""}`),
      h(
        "div",
        { class: "row" },
        h("button", { type: "button", onclick: downloadCsv }, "Download trades (CSV)"),
        h("button", { type: "button", id: "download-report", onclick: downloadReport }, "Download HTML report"),
      ),
      h("div", { id: "download-problem", "aria-live": "polite" }),
      equity,
      candles,
      h("div", { class: "grid" }, h("section", { class: "panel", "aria-label": "Metrics" }, h("h2", {}, "Metrics"), metricsTable(summary.metrics)), h("section", { class: "panel", "aria-label": "Profit and loss" }, h("h2", {}, "P&L"), pnlTables(summary.breakdown))),
      tradesPanel(),
    );
    body.dataset.drawnMs = String(Math.round(performance.now() - started));
    window.dispatchEvent(new CustomEvent("velocitas:report-drawn", { detail: { id } }));
  }

  function legs() {
    if (job.spec.legs) return job.spec.legs.map((l) => l.symbol);
    return [job.spec.symbol];
  }

  async function candlesWithMarkers() {
    const symbol = legs()[0];
    const start = Date.parse(job.spec.start) / 1000;
    const end = Date.parse(job.spec.end) / 1000;
    const first = LADDER.findIndex(([tf]) => tf === job.spec.timeframe);
    const [timeframe, seconds] = LADDER.slice(Math.max(first, 0)).find(([, s]) => (end - start) / s <= MAX_CANDLES) || LADDER[LADDER.length - 1];
    const box = h("div", { class: "chart", id: "candles", role: "img", "aria-label": `${symbol} ${timeframe} candles with trade entries and exits` });
    const panel = h("section", { class: "panel", "aria-label": "Price and trades" }, h("h2", {}, `${symbol} ${timeframe}, trades marked`), box);
    const [history, trades] = await Promise.all([
      get("/history", { symbol, timeframe, start: job.spec.start, end: job.spec.end, limit: MAX_CANDLES }),
      allPages(`${path}/trades`, { limit: 1000 }),
    ]);
    const ours = trades.filter((t) => t.symbol === symbol);
    const bucket = (iso) => Math.floor(toSeconds(iso) / seconds) * seconds;
    const c = colors();
    const markers = [];
    for (const t of ours) {
      const long = t.side === "long";
      markers.push({ time: bucket(t.entry_at), position: long ? "belowBar" : "aboveBar", shape: long ? "arrowUp" : "arrowDown", color: long ? c.good : c.bad, text: `#${t.seq} ${t.side}`, id: `entry-${t.seq}` });
      markers.push({ time: bucket(t.exit_at), position: long ? "aboveBar" : "belowBar", shape: "circle", color: c.accent, text: `#${t.seq} exit`, id: `exit-${t.seq}` });
    }
    markers.sort((a, b) => a.time - b.time);
    // What the chart marks, readable by tests and assistive tools alike.
    box.dataset.markers = JSON.stringify(markers.map((m) => ({ id: m.id, time: m.time })));
    box.dataset.bucketSeconds = String(seconds);
    requestAnimationFrame(() => {
      const chart = createChart(box);
      const series = candleSeries(chart);
      series.setData(history.candles.map(candle));
      setMarkers(series, markers);
      chart.timeScale().fitContent();
      box.dataset.drawn = "true";
    });
    if (!history.candles.length) panel.append(empty("No candles in this range."));
    return panel;
  }

  function tradesPanel() {
    const holder = h("div", { id: "trades" });
    const pager = h("div", { class: "pager" });
    const cursors = [-1];
    async function page(index) {
      try {
        const answer = await get(`${path}/trades`, { after: cursors[index], limit: PAGE });
        if (answer.next_after != null) cursors[index + 1] = answer.next_after;
        holder.replaceChildren(
          table(
            [
              ["#", (t) => t.seq, { num: true }],
              ["Leg", (t) => t.leg, { num: true }],
              ["Symbol", (t) => t.symbol],
              ["Side", (t) => t.side],
              ["Quantity", (t) => t.quantity, { num: true }],
              ["Entry", (t) => when(t.entry_at)],
              ["Entry price", (t) => t.entry_price, { num: true }],
              ["Exit", (t) => when(t.exit_at)],
              ["Exit price", (t) => t.exit_price, { num: true }],
              ["Net P&L", (t) => t.net_pnl, { num: true }],
              ["Fees", (t) => t.fees, { num: true }],
              ["Reason", (t) => t.exit_reason],
            ],
            answer.items,
            "No trades: the strategy never entered a position.",
          ),
        );
        pager.replaceChildren(
          h("button", { type: "button", disabled: index === 0, onclick: () => page(index - 1) }, "Previous"),
          h("span", {}, `page ${index + 1}`),
          h("button", { type: "button", disabled: answer.next_after == null, onclick: () => page(index + 1) }, "Next"),
        );
      } catch (error) {
        holder.replaceChildren(errorBox(error));
      }
    }
    page(0);
    return h("section", { class: "panel", "aria-label": "Trades" }, h("h2", {}, "Trades"), holder, pager);
  }

  async function downloadCsv() {
    const problem = document.getElementById("download-problem");
    try {
      const trades = await allPages(`${path}/trades`, { limit: 1000 });
      const quote = (v) => (/[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
      const lines = [TRADE_COLUMNS.join(","), ...trades.map((t) => TRADE_COLUMNS.map((c) => quote(t[c])).join(","))];
      download(`backtest-${id}-trades.csv`, `${lines.join("\n")}\n`);
    } catch (error) {
      problem.replaceChildren(errorBox(error));
    }
  }

  // The worker's self-contained page (plotly inlined, a few MB): fetched with the key, saved
  // through an object URL like the CSV; the browser undoes the gzip transfer encoding.
  async function downloadReport() {
    const problem = document.getElementById("download-problem");
    try {
      const page = await request("GET", `${path}/report.html`, { headers: { Accept: "text/html" } });
      download(`backtest-${id}.html`, page, "text/html");
      problem.replaceChildren();
    } catch (error) {
      problem.replaceChildren(errorBox(error));
    }
  }

  await draw();
  return () => (off(), offReconnect());
}
