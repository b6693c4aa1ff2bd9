// The model registry (metrics, stage; promote, for admins) and a predict box that asks the
// oracle, through the gateway's `POST /predict`, for an action.

import { get, post } from "../api.js";
import { errorBox, field, h, metricText, table, when } from "../ui.js";

export async function render(view) {
  const registry = h("div", { id: "models" }, h("p", { class: "hint" }, "Loading…"));
  const promoteProblem = h("div", { "aria-live": "polite" });
  async function refresh() {
    try {
      const models = await get("/models");
      registry.replaceChildren(
        table(
          [
            ["Version", (m) => m.version],
            ["Symbol", (m) => `${m.symbol} ${m.timeframe}`],
            ["Stage", (m) => h("span", { dataset: { stage: m.stage } }, m.stage)],
            ["Trained", (m) => `${when(m.train_start)} – ${when(m.train_end)}`],
            ["Metrics", (m) => Object.entries(m.metrics || {}).filter(([, v]) => typeof v !== "object").slice(0, 6).map(([k, v]) => `${k} ${metricText(v)}`).join(", ")],
            ["", (m) => (m.stage === "production" ? "serving" : h("button", { type: "button", onclick: () => promote(m.version) }, `Promote ${m.version}`))],
          ],
          models,
          "No models registered: train one with `velocitas lab train`.",
        ),
      );
    } catch (error) {
      registry.replaceChildren(errorBox(error));
    }
  }
  async function promote(version) {
    promoteProblem.replaceChildren();
    try {
      await post(`/models/${encodeURIComponent(version)}/promote`);
      await refresh();
    } catch (error) {
      promoteProblem.replaceChildren(errorBox(error));
    }
  }

  const symbol = h("input", { id: "pr-symbol", required: true, placeholder: "BTCUSD" });
  const at = h("input", { id: "pr-at", type: "datetime-local", required: true, step: 60 });
  const position = h("select", { id: "pr-position" }, [["0", "flat"], ["1", "long"], ["-1", "short"]].map(([v, t]) => h("option", { value: v }, t)));
  const answer = h("div", { id: "prediction", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "stack", "aria-labelledby": "predict-title" },
    h("h2", { id: "predict-title" }, "Ask the served model"),
    h("div", { class: "fields" }, field("Symbol", symbol), field("At (UTC)", at), field("Position", position)),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Predict")),
    answer,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    answer.replaceChildren(h("p", { class: "hint" }, "Asking…"));
    try {
      const result = await post("/predict", { symbol: symbol.value.trim(), at: `${at.value}:00Z`, position: Number(position.value) });
      answer.replaceChildren(table([["Field", ([k]) => k], ["Value", ([, v]) => (typeof v === "object" ? JSON.stringify(v) : String(v))]], Object.entries(result), "Empty answer."));
    } catch (error) {
      answer.replaceChildren(errorBox(error));
    }
  });

  view.append(
    h("h1", {}, "Models"),
    h("section", { class: "panel", "aria-label": "Registry" }, h("h2", {}, "Registry"), registry, promoteProblem),
    h("section", { class: "panel" }, form),
  );
  await refresh();
}
