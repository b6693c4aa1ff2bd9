// Stored series (span, bar count, gaps) and a CSV upload through `POST /bars`, the API's
// row-level problems listed next to the file.

import { get, request } from "../api.js";
import { errorBox, field, h, table, when } from "../ui.js";

const TIMEFRAMES = ["1m", "5m", "15m", "30m", "1h", "4h", "1d"];

export async function render(view) {
  const list = h("div", {}, h("p", { class: "hint" }, "Loading…"));
  const result = h("div", { id: "upload-result", "aria-live": "polite" });
  const file = h("input", { id: "csv-file", type: "file", accept: ".csv,text/csv", required: true });
  const symbol = h("input", { id: "csv-symbol", required: true, pattern: "[A-Za-z0-9._\\-]+", placeholder: "BTCUSD" });
  const timeframe = h("select", { id: "csv-timeframe" }, TIMEFRAMES.map((t) => h("option", { value: t, selected: t === "1h" }, t)));
  const skip = h("input", { id: "csv-skip", type: "checkbox" });
  const form = h(
    "form",
    { class: "stack", "aria-labelledby": "upload-title" },
    h("h2", { id: "upload-title" }, "Upload bars (CSV)"),
    h("div", { class: "fields" }, field("CSV file", file), field("Symbol", symbol), field("Timeframe", timeframe)),
    h("label", { class: "check" }, skip, "Store the good rows, report the bad ones"),
    h("p", { class: "hint" }, "Header: opened_at,open,high,low,close,volume. Needs the data-writer role."),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Upload")),
    result,
  );

  async function refresh() {
    try {
      const rows = await get("/series");
      list.replaceChildren(
        table(
          [
            ["Symbol", (r) => r.symbol],
            ["Timeframe", (r) => r.timeframe],
            ["First bar", (r) => when(r.first_opened_at)],
            ["Last bar", (r) => when(r.last_opened_at)],
            ["Bars", (r) => r.bars, { num: true }],
            ["Missing", (r) => r.missing_bars, { num: true }],
            ["Gaps", (r) => r.gap_count, { num: true }],
          ],
          rows,
          "No bars stored yet: upload a CSV below, or `velocitas data import`.",
        ),
      );
    } catch (error) {
      list.replaceChildren(errorBox(error));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!file.files.length) return;
    result.replaceChildren(h("p", { class: "hint" }, "Uploading…"));
    try {
      const answer = await request("POST", "/bars", {
        body: file.files[0],
        headers: { "Content-Type": "text/csv" },
        query: { symbol: symbol.value.trim(), timeframe: timeframe.value, skip_invalid: skip.checked ? "true" : undefined },
      });
      result.replaceChildren(
        h("p", { class: "ok" }, `${answer.symbol} ${answer.timeframe}: read ${answer.read}, inserted ${answer.inserted}, updated ${answer.updated}, unchanged ${answer.unchanged}, rejected ${answer.rejected}.`),
        problems(answer.problems || []),
      );
      refresh();
    } catch (error) {
      const rows = error.body && Array.isArray(error.body.detail) && error.body.detail.length && "row" in error.body.detail[0] ? error.body.detail : [];
      result.replaceChildren(errorBox(error), problems(rows));
    }
  });

  view.append(h("h1", {}, "Market data"), h("section", { class: "panel", "aria-label": "Stored series" }, h("h2", {}, "Stored series"), list), h("section", { class: "panel" }, form));
  await refresh();
}

function problems(rows) {
  if (!rows.length) return h("div");
  return table(
    [
      ["Row", (p) => p.row, { num: true }],
      ["Column", (p) => p.column],
      ["Problem", (p) => p.reason],
    ],
    rows,
    "",
    "Rows refused (row 1 is the first line after the header)",
  );
}
