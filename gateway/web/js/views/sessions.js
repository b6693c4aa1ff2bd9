// Trading sessions (docs/sessions.md): the list and a form to create one, and the live view:
// candles warmed from GET /history then moved by the streamed ticks (each batch unpacked over
// its market interval at the session's speed, one update per animation frame), the order
// ticket, positions and P&L, the event journal and the controls. After a dropped connection it
// subscribes again with `after` = the last event seen: the server sends what was missed, once.

import { get, post } from "../api.js";
import { candle, candleSeries, createChart } from "../charts.js";
import { specForm } from "../jobs.js";
import { errorBox, field, h, shortId, table, when } from "../ui.js";

const TF_SECONDS = { "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400 };
const SPEEDS = ["1", "60", "600", "3600", "max"];
const JOURNAL_SIZE = 300;

export async function renderList(view) {
  const holder = h("div", { id: "sessions-list" }, h("p", { class: "hint" }, "Loading…"));
  const name = h("input", { id: "ss-name", maxlength: 128 });
  const speed = h("select", { id: "ss-speed" }, SPEEDS.map((s) => h("option", { value: s, selected: s === "60" }, s === "max" ? "as fast as possible" : `real time × ${s}`)));
  const startNow = h("input", { id: "ss-start", type: "checkbox", checked: true });
  async function refresh() {
    try {
      const page = await get("/sessions", { limit: 50 });
      holder.replaceChildren(
        table(
          [
            ["Session", (s) => h("a", { href: `#/sessions/${s.id}` }, s.name || shortId(s.id))],
            ["State", (s) => s.state],
            ["Clock", (s) => when(s.clock)],
            ["Progress", (s) => `${Math.round((s.progress || 0) * 100)}%`, { num: true }],
            ["Reason", (s) => s.reason || ""],
          ],
          page.items || [],
          "No sessions yet: create one above.",
        ),
      );
    } catch (error) {
      holder.replaceChildren(errorBox(error));
    }
  }
  const form = await specForm({
    idPrefix: "ss",
    submitLabel: "Create session",
    extra: [{ element: h("div", { class: "fields" }, field("Name", name), field("Speed", speed), h("label", { class: "check" }, startNow, "Start at once")), value: () => ({ name: name.value.trim(), speed: speed.value === "max" ? "max" : Number(speed.value) }) }],
    onSubmit: async (spec) => {
      const created = await post("/sessions", spec);
      if (startNow.checked) await post(`/sessions/${created.id}/start`);
      location.hash = `#/sessions/${created.id}`;
    },
  });
  view.append(
    h("h1", {}, "Trading sessions"),
    h("section", { class: "panel", "aria-label": "New session" }, h("h2", {}, "New session (replay, paper broker)"), form),
    h("section", { class: "panel", "aria-label": "Your sessions" }, h("h2", {}, "Your sessions"), holder),
  );
  await refresh();
}

const money = (v) => (v === null || v === undefined ? "" : String(v));

export async function renderOne(view, { socket }, id) {
  const path = `/sessions/${id}`;
  let session = await get(path);
  const spec = session.spec;
  const symbols = spec.legs ? [...new Set(spec.legs.map((l) => l.symbol))] : [spec.symbol];
  const symbol = symbols[0];
  const timeframe = spec.timeframe;
  const bucketSeconds = TF_SECONDS[timeframe] || 60;
  let speed = spec.speed === "max" ? Infinity : Number(spec.speed || 1);
  let lastSeq = 0;

  // --- header and controls
  const state = h("strong", { id: "session-state" });
  const clock = h("span", { id: "session-clock" });
  const controlProblem = h("div", { id: "control-result", "aria-live": "polite" });
  function showSession() {
    state.textContent = session.state;
    state.dataset.state = session.state;
    const total = session.bars_total ? `/${session.bars_total}` : "";
    clock.textContent = `${when(session.clock)} · ${session.bars_done ?? 0}${total} bars`;
  }
  const control = (action, label, cls) =>
    h("button", {
      type: "button",
      class: cls,
      dataset: { action },
      onclick: async () => {
        controlProblem.replaceChildren();
        try {
          session = await post(`${path}/${action}`);
          showSession();
        } catch (error) {
          controlProblem.replaceChildren(errorBox(error));
        }
      },
    }, label);
  const controls = h("div", { class: "row", role: "group", "aria-label": "Session controls" }, control("start", "Start"), control("pause", "Pause"), control("resume", "Resume"), control("stop", "Stop"), control("kill", "Kill", "danger"), speedControl());

  // Speed: the trader follows a change from its next tick batch on (POST /sessions/{id}/speed).
  function speedControl() {
    const current = spec.speed === "max" ? "max" : String(spec.speed);
    const choices = SPEEDS.includes(current) ? SPEEDS : [current, ...SPEEDS];
    const select = h("select", { id: "session-speed", "aria-label": "Replay speed" }, choices.map((s) => h("option", { value: s, selected: s === current }, s === "max" ? "as fast as possible" : `real time × ${s}`)));
    select.addEventListener("change", async () => {
      controlProblem.replaceChildren();
      try {
        session = await post(`${path}/speed`, { speed: select.value === "max" ? "max" : Number(select.value) });
        speed = select.value === "max" ? Infinity : Number(select.value);
        showSession();
      } catch (error) {
        controlProblem.replaceChildren(errorBox(error));
      }
    });
    return h("label", { class: "check" }, "Speed ", select);
  }

  // --- the chart: warmed from history, moved by ticks
  const box = h("div", { class: "chart", id: "session-chart", role: "img", "aria-label": `${symbol} ${timeframe} live candles` });
  const lastPrice = h("output", { id: "last-price", "aria-live": "off" });
  let chart = null;
  let series = null;
  let current = null;  // the forming candle
  const queue = [];  // [wallTimeMs, marketMs, price, arrivedMs (a batch's first tick only)]
  // How long each batch's first tick waited between arriving and being drawn (the last 1000),
  // for bench/web_session_fps.py.
  const latencies = (window.__velocitasTickLatency = []);
  let frameHandle = 0;
  let ticksDrawn = 0;
  let frames = 0;

  function applyTick(marketMs, price) {
    const time = Math.floor(marketMs / 1000 / bucketSeconds) * bucketSeconds;
    if (current && time < current.time) return;  // older than what is drawn: already in a bar
    if (!current || time > current.time) current = { time, open: price, high: price, low: price, close: price };
    else current = { ...current, high: Math.max(current.high, price), low: Math.min(current.low, price), close: price };
    series.update(current);
    ticksDrawn += 1;
  }

  function frame(now) {
    frameHandle = requestAnimationFrame(frame);
    frames += 1;
    let latest = null;
    while (queue.length && queue[0][0] <= now) {
      const [, marketMs, price, arrived] = queue.shift();
      if (series) applyTick(marketMs, price);
      if (arrived !== undefined) latencies.push(now - arrived) > 1000 && latencies.shift();
      latest = price;
    }
    if (latest !== null) {
      lastPrice.textContent = String(latest);
      box.dataset.lastPrice = String(latest);
      box.dataset.ticks = String(ticksDrawn);
    }
    box.dataset.frames = String(frames);
  }

  // A batch's ticks are spread over their market interval divided by the speed, starting when
  // the previous batch's last tick is due (or now, if the stream fell behind).
  function enqueue(ticks) {
    const now = performance.now();
    const previousEnd = queue.length ? queue[queue.length - 1][0] : now;
    const start = Math.max(now, previousEnd);
    const first = ticks[0][0];
    const behind = previousEnd - now > 1000;  // over a second late: draw at once, catch up
    ticks.forEach(([ms, price], i) => {
      const offset = Number.isFinite(speed) && !behind ? (ms - first) / speed : 0;
      queue.push(i === 0 ? [start + offset, ms, Number(price), now] : [start + offset, ms, Number(price)]);
    });
  }

  function barClosed(event) {
    if (event.symbol !== symbol || !series) return;
    const bar = candle(event);
    if (current && bar.time < current.time) return;
    series.update(bar);
    current = bar;
  }

  // --- order ticket
  const ticketProblem = h("div", { id: "ticket-result", "aria-live": "polite" });
  const orderSymbol = h("select", { id: "ot-symbol" }, symbols.map((s) => h("option", { value: s }, s)));
  const side = h("select", { id: "ot-side" }, h("option", { value: "buy" }, "buy"), h("option", { value: "sell" }, "sell"));
  const type = h("select", { id: "ot-type" }, h("option", { value: "market" }, "market"), h("option", { value: "limit" }, "limit"));
  const quantity = h("input", { id: "ot-quantity", required: true, inputmode: "decimal", value: "1" });
  const limitPrice = h("input", { id: "ot-limit", inputmode: "decimal", disabled: true });
  const stopLoss = h("input", { id: "ot-sl", inputmode: "decimal" });
  const takeProfit = h("input", { id: "ot-tp", inputmode: "decimal" });
  const trailing = h("input", { id: "ot-trailing", inputmode: "decimal" });
  type.addEventListener("change", () => (limitPrice.disabled = type.value !== "limit"));
  const mine = new Map();  // client_order_id -> order row shown in the ticket
  const ticket = h(
    "form",
    { class: "stack", "aria-labelledby": "ticket-title" },
    h("h2", { id: "ticket-title" }, "Order ticket"),
    h("div", { class: "fields" }, field("Symbol", orderSymbol), field("Side", side), field("Type", type), field("Quantity", quantity), field("Limit price", limitPrice), field("Stop loss", stopLoss), field("Take profit", takeProfit), field("Trailing stop", trailing)),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Place order")),
    ticketProblem,
  );
  ticket.addEventListener("submit", async (event) => {
    event.preventDefault();
    const order = { symbol: orderSymbol.value, side: side.value, type: type.value, quantity: quantity.value.trim(), client_order_id: crypto.randomUUID() };
    if (type.value === "limit" && limitPrice.value.trim()) order.limit_price = limitPrice.value.trim();
    for (const [name, input] of [["stop_loss", stopLoss], ["take_profit", takeProfit], ["trailing_stop", trailing]]) if (input.value.trim()) order[name] = input.value.trim();
    ticketProblem.replaceChildren(h("p", { class: "hint" }, "Sending…"));
    try {
      const placed = await post(`${path}/orders`, order);
      mine.set(order.client_order_id, placed);
      ticketProblem.replaceChildren(h("p", { class: "ok", dataset: { order: placed.id, status: placed.status } }, `Order ${shortId(placed.id)}: ${placed.status}`));
    } catch (error) {
      ticketProblem.replaceChildren(errorBox(error));
    }
  });
  function orderEvent(event) {
    const placed = event.client_order_id && mine.get(event.client_order_id);
    if (!placed) return;
    const text = event.type === "order.rejected" ? `Order ${shortId(placed.id)} rejected: ${event.reason}` : `Order ${shortId(placed.id)}: ${event.type.slice(6)}`;
    ticketProblem.replaceChildren(event.type === "order.rejected" ? h("div", { class: "error", role: "alert", dataset: { status: "rejected" } }, text) : h("p", { class: "ok", dataset: { status: event.type.slice(6) } }, text));
  }

  // --- positions and P&L (exact strings from the API; re-read at most once a second)
  const positions = h("div", { id: "positions" });
  const pnl = h("div", { id: "pnl" });
  let pnlTimer = 0;
  async function readBooks() {
    pnlTimer = 0;
    try {
      const [open, books] = await Promise.all([get(`${path}/positions`), get(`${path}/pnl`)]);
      const rows = Array.isArray(open) ? open : open.items || open.positions || [];
      positions.replaceChildren(
        table(
          [
            ["Leg", (p) => (p.leg === null || p.leg === undefined ? "manual" : p.leg)],
            ["Symbol", (p) => p.symbol],
            ["Side", (p) => p.side],
            ["Quantity", (p) => money(p.quantity), { num: true }],
            ["Average price", (p) => money(p.average_price), { num: true }],
            ["Realised", (p) => money(p.realised_pnl), { num: true }],
            ["Unrealised", (p) => money(p.unrealised_pnl), { num: true }],
          ],
          rows,
          "No open positions.",
        ),
      );
      const by = (title, entries) => h("div", {}, h("h3", {}, title), table([["", ([k]) => k], ["Realised", ([, v]) => money(v.realised), { num: true }], ["Unrealised", ([, v]) => money(v.unrealised), { num: true }], ["Total", ([, v]) => money(v.total), { num: true }]], entries, "Nothing yet."));
      pnl.replaceChildren(
        h("p", {}, "Equity ", h("strong", { id: "equity" }, money(books.equity)), ` · cash ${money(books.cash)} · realised ${money(books.realised)} · unrealised ${money(books.unrealised)} · total `, h("strong", { id: "pnl-total" }, money(books.total))),
        h(
          "div",
          { class: "grid" },
          h("div", {}, h("h3", {}, "Per leg"), table([["Leg", (l) => (l.leg === null || l.leg === undefined ? "manual" : l.leg)], ["Symbol", (l) => l.symbol], ["Strategy", (l) => l.strategy || ""], ["Realised", (l) => money(l.realised), { num: true }], ["Unrealised", (l) => money(l.unrealised), { num: true }]], books.legs || [], "Nothing yet.")),
          by("Per symbol", Object.entries(books.by_symbol || {})),
          by("Per strategy", Object.entries(books.by_strategy || {})),
        ),
      );
    } catch (error) {
      pnl.replaceChildren(errorBox(error));
    }
  }
  const booksSoon = () => {
    if (!pnlTimer) pnlTimer = setTimeout(readBooks, 1000);
  };

  // --- journal
  const journal = h("ol", { class: "journal", id: "journal", "aria-label": "Event journal", tabindex: "0" });
  function describe(event) {
    switch (event.type) {
      case "bar.closed": return `${event.symbol} bar ${when(event.opened_at)} closed ${event.close}`;
      case "signal": return `leg ${event.leg} ${event.strategy}: signal ${event.side}`;
      case "fill": return `${event.side} ${event.quantity} ${event.symbol} @ ${event.price} (fee ${event.fee}, ${event.reason})`;
      case "position.changed": return `${event.symbol} now ${event.side} ${event.quantity}`;
      case "session.state": return `${event.previous || ""} → ${event.state}: ${event.reason}`;
      case "pnl": return `equity ${event.equity}, realised ${event.realised}, unrealised ${event.unrealised}`;
      default:
        if (event.type.startsWith("order.")) return `${event.origin} ${event.side} ${event.quantity} ${event.symbol} ${event.order_type}${event.reason ? `: ${event.reason}` : ""}`;
        if (event.type.startsWith("risk.")) return `${event.rule}: ${event.reason}`;
        return JSON.stringify(event);
    }
  }
  function journalEntry(message) {
    const event = message.event;
    journal.querySelector("li.hint")?.remove();
    journal.prepend(h("li", { dataset: { seq: message.seq, type: event.type } }, `#${message.seq} ${when(event.at)} ${event.type} — ${describe(event)}`));
    while (journal.childElementCount > JOURNAL_SIZE) journal.lastElementChild.remove();
  }

  function onMessage(message) {
    if (message.session !== id) return;
    if (message.type === "ticks") {
      if (message.symbol === symbol && message.ticks.length) enqueue(message.ticks);
      return;
    }
    if (message.type !== "session.event") return;
    if (message.seq <= lastSeq) return;  // already seen (a replay after reconnecting)
    lastSeq = message.seq;
    const event = message.event;
    journalEntry(message);
    if (event.type === "bar.closed") {
      barClosed(event);
      session = { ...session, clock: event.opened_at, bars_done: (session.bars_done || 0) + 1 };
      showSession();
    } else if (event.type === "session.state") {
      session = { ...session, state: event.state, reason: event.reason };
      showSession();
      booksSoon();
    } else if (event.type.startsWith("order.")) {
      orderEvent(event);
    } else if (["fill", "position.changed", "pnl", "risk.killed", "risk.halted"].includes(event.type)) {
      booksSoon();
    }
  }

  const subscribe = () => socket.send({ type: "subscribe", session: id, after: lastSeq });
  const off = socket.on(onMessage);
  const offReconnect = socket.onReconnect(async () => {
    session = await get(path);
    showSession();
    subscribe();
  });

  view.append(
    h("h1", {}, `Session ${session.name || shortId(id)} `, state),
    h("p", {}, clock, " · last price ", lastPrice),
    controls,
    controlProblem,
    h("section", { class: "panel", "aria-label": "Price" }, box),
    h("div", { class: "grid" }, h("section", { class: "panel" }, ticket), h("section", { class: "panel", "aria-label": "Positions" }, h("h2", {}, "Positions"), positions)),
    h("section", { class: "panel", "aria-label": "Profit and loss" }, h("h2", {}, "P&L"), pnl),
    h("section", { class: "panel", "aria-label": "Journal" }, h("h2", {}, "Journal"), journal),
  );
  showSession();

  // Warm the chart from history up to the session's clock, then start the stream from the
  // journal's last events so the journal shows the recent past too.
  const warmEnd = session.clock ? new Date(Date.parse(session.clock) + bucketSeconds * 1000).toISOString() : spec.start;
  try {
    const history = await get("/history", { symbol, timeframe, end: warmEnd, limit: 500 });
    chart = createChart(box);
    series = candleSeries(chart);
    const candles = history.candles.map(candle);
    series.setData(candles);
    current = candles.length ? candles[candles.length - 1] : null;
    chart.timeScale().fitContent();
    box.dataset.warm = String(candles.length);
  } catch (error) {
    chart = createChart(box);
    series = candleSeries(chart);
    box.after(errorBox(error));
  }
  lastSeq = Math.max(0, (session.last_seq || 0) - 50);
  subscribe();
  readBooks();
  frameHandle = requestAnimationFrame(frame);
  if (!journal.childElementCount) journal.append(h("li", { class: "hint" }, "No events yet."));

  return () => {
    off();
    offReconnect();
    cancelAnimationFrame(frameHandle);
    clearTimeout(pnlTimer);
    socket.send({ type: "unsubscribe", session: id });
    if (chart) chart.remove();
  };
}
