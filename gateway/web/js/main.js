// The app's shell: sign-in, the navigation, one WebSocket for job events, and a hash router
// (#/backtests/ID ...) so every view has a URL and the back button works without a server.

import { auth, get } from "./api.js";
import { Socket } from "./events.js";
import { errorBox, h } from "./ui.js";
import * as series from "./views/series.js";
import * as backtests from "./views/backtests.js";
import * as report from "./views/report.js";
import * as sweeps from "./views/sweeps.js";
import * as walkForwards from "./views/walk_forwards.js";
import * as sessions from "./views/sessions.js";
import * as models from "./views/models.js";
import * as news from "./views/news.js";

const ROUTES = [
  [/^#\/series$/, series.render],
  [/^#\/backtests$/, backtests.render],
  [/^#\/backtests\/([0-9a-f-]+)$/, report.render],
  [/^#\/sweeps$/, sweeps.renderList],
  [/^#\/sweeps\/([0-9a-f-]+)$/, sweeps.renderOne],
  [/^#\/walk-forwards$/, walkForwards.renderList],
  [/^#\/walk-forwards\/([0-9a-f-]+)$/, walkForwards.renderOne],
  [/^#\/sessions$/, sessions.renderList],
  [/^#\/sessions\/([0-9a-f-]+)$/, sessions.renderOne],
  [/^#\/models$/, models.render],
  [/^#\/news$/, news.render],
];

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const signout = document.getElementById("signout");
const socketStatus = document.getElementById("socket");
let socket = null;
let cleanup = null;

function setSocketStatus(text) {
  socketStatus.textContent = `events: ${text}`;
  socketStatus.dataset.state = text;
}

function showSignIn(message) {
  nav.hidden = true;
  signout.hidden = true;
  socketStatus.textContent = "";
  if (socket) socket.close();
  socket = null;
  const input = h("input", { id: "key", type: "password", autocomplete: "off", required: true, spellcheck: false });
  const problem = h("div", { "aria-live": "polite" }, message ? errorBox(message) : null);
  const form = h(
    "form",
    { class: "stack panel signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("label", { for: "key" }, "API key", input, h("span", { class: "hint" }, "From `velocitas user create`; kept in this tab only (session storage).")),
    h("button", { class: "primary", type: "submit" }, "Sign in"),
    problem,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    auth.set(input.value.trim());
    try {
      await get("/strategies");  // any keyed route: proves the key before showing the app
      start();
    } catch (error) {
      auth.clear();
      problem.replaceChildren(errorBox(error));
    }
  });
  main.replaceChildren(form);
  input.focus();
}

function start() {
  nav.hidden = false;
  signout.hidden = false;
  if (!socket) socket = new Socket("/ws", { onStatus: setSocketStatus }).open();
  if (!location.hash || location.hash === "#/" || location.hash === "#") location.hash = "#/backtests";
  else route();
}

async function route() {
  if (!auth.key()) return showSignIn();
  if (cleanup) cleanup();
  cleanup = null;
  const hash = location.hash;
  for (const link of nav.querySelectorAll("a")) {
    const here = hash === link.getAttribute("href") || hash.startsWith(`${link.getAttribute("href")}/`);
    if (here) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const [pattern, render] of ROUTES) {
    const match = hash.match(pattern);
    if (!match) continue;
    const view = h("div", { class: "view" });
    main.replaceChildren(view);
    try {
      cleanup = (await render(view, { socket }, ...match.slice(1))) || null;
    } catch (error) {
      view.append(errorBox(error));
    }
    return;
  }
  main.replaceChildren(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/backtests" }, "Backtests")));
}

window.addEventListener("hashchange", route);
window.addEventListener("velocitas:unauthorized", (event) => {
  auth.clear();
  showSignIn(`Signed out: ${event.detail}`);
});
signout.addEventListener("click", () => {
  auth.clear();
  showSignIn();
});

if (auth.key()) start();
else showSignIn();
