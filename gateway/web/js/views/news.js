// News as of a chosen instant (nothing published later is retrieved) and the sentiment series
// drawn over the price: the analyst's `/news/search` and `/sentiment`, through the gateway.

import { get } from "../api.js";
import { candle, candleSeries, createChart, lineSeries, toSeconds } from "../charts.js";
import { empty, errorBox, field, h, table, when } from "../ui.js";

// Sentiment samples across the drawn window, asked one after another: nginx allows a client 10
// requests a second with a burst of 20 (nginx/velocitas.conf).
const POINTS = 16;

export async function render(view) {
  const stored = await get("/series");
  const series = h("select", { id: "nw-series" }, stored.length ? stored.map((s) => h("option", { value: `${s.symbol} ${s.timeframe}`, dataset: { last: s.last_opened_at } }, `${s.symbol} ${s.timeframe}`)) : h("option", { value: "" }, "no stored series"));
  const q = h("input", { id: "nw-q", required: true, value: "earnings" });
  const at = h("input", { id: "nw-at", type: "datetime-local", required: true, step: 60 });
  const window_ = h("input", { id: "nw-window", value: "3d" });
  const results = h("div", { id: "news-results", "aria-live": "polite" });
  const chartBox = h("div", { class: "chart", id: "news-chart", role: "img", "aria-label": "Price candles with the news sentiment line (-1 to 1) on the left scale" });
  const chartPanel = h("section", { class: "panel", "aria-label": "Sentiment over price" }, h("h2", {}, "Sentiment over price"), chartBox);
  const sync = () => {
    const option = series.selectedOptions[0];
    if (option && option.dataset.last) at.value = option.dataset.last.slice(0, 16);
  };
  series.addEventListener("change", sync);
  sync();
  let chart = null;

  const form = h(
    "form",
    { class: "stack", "aria-labelledby": "news-title" },
    h("h2", { id: "news-title" }, "Search the news as of an instant"),
    h("div", { class: "fields" }, field("Series", series), field("Query", q), field("As of (UTC)", at), field("Look-back", window_, "e.g. 3d, 12h")),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Search")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [symbol, timeframe] = series.value.split(" ");
    const instant = `${at.value}:00Z`;
    results.replaceChildren(h("p", { class: "hint" }, "Searching…"));
    try {
      const found = await get("/news/search", { q: q.value.trim(), at: instant, symbol, window: window_.value.trim(), k: 10 });
      const items = found.hits || [];
      results.replaceChildren(table([["Published", (n) => when(n.published_at)], ["Source", (n) => n.source || ""], ["Headline", (n) => n.headline], ["Similarity", (n) => n.similarity.toFixed(3), { num: true }]], items, "No news before this instant matches."));
    } catch (error) {
      results.replaceChildren(errorBox(error));
    }
    await drawChart(symbol, timeframe, instant);
  });

  async function drawChart(symbol, timeframe, instant) {
    try {
      const history = await get("/history", { symbol, timeframe, end: instant, limit: 500 });
      if (chart) chart.remove();
      chartBox.replaceChildren();
      chart = createChart(chartBox, { leftPriceScale: { visible: true } });
      const candles = history.candles.map(candle);
      candleSeries(chart).setData(candles);
      const sentiment = lineSeries(chart, { priceScaleId: "left", title: "sentiment" });
      if (candles.length) {
        const step = Math.max(1, Math.floor(candles.length / POINTS));
        const picks = history.candles.filter((_, i) => i % step === 0 || i === candles.length - 1);
        const scores = [];
        for (const c of picks) scores.push(await get("/sentiment", { symbol, at: c.opened_at }));
        sentiment.setData(picks.map((c, i) => ({ time: toSeconds(c.opened_at), value: Number(scores[i].score) })));
      }
      chart.timeScale().fitContent();
      chartBox.dataset.drawn = "true";
    } catch (error) {
      chartBox.replaceChildren(errorBox(error));
    }
  }

  view.append(h("h1", {}, "News"), h("section", { class: "panel" }, form, results), chartPanel);
  if (!stored.length) results.replaceChildren(empty("No stored series: upload bars first."));
}
