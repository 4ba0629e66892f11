// The web explorer's core: DOM building, the JSON API, the router and the live height.
// Every piece of text goes into the page through text nodes (never innerHTML), so whatever a
// member, owner or node put on the chain is shown, never run. Pages live in pages.js.
"use strict";

const X = (() => {
  const POLL_MS = 1000;
  const pages = {};
  let generation = 0;
  let onHeight = null;
  let lastHeight = null;

  // el("a", {href: "#/"}, "text", child, [more]) -> element; strings become text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(node, child);
      else if (child instanceof Node) node.appendChild(child);
      else node.appendChild(document.createTextNode(String(child)));
    }
  }

  function href(kind, ...parts) {
    return "#/" + [kind, ...parts.map((p) => encodeURIComponent(String(p)))].join("/");
  }

  function short(hex) {
    const text = String(hex);
    return text.length > 16 ? text.slice(0, 12) + "…" : text;
  }

  // A link to an id's page, shortened on screen, in full on hover and in the link.
  function idLink(kind, hex) {
    if (hex === null || hex === undefined) return "–";
    return el("a", { href: href(kind, hex), title: String(hex), class: "id" }, short(hex));
  }

  function hexText(hex) {
    return el("span", { class: "id", title: String(hex) }, short(hex));
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  // Milliseconds since the epoch as local "YYYY-MM-DD HH:MM:SS".
  function when(ms) {
    if (typeof ms !== "number" || !Number.isFinite(ms)) return "–";
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 90) return `${s} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 129600) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  }

  function timeCell(ms) {
    return el("span", { class: "time", title: ago(ms) }, when(ms));
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const error = (body && body.error) || {};
      throw new ApiError(response.status, error.code || "http_error",
        error.message || `HTTP ${response.status}`);
    }
    return body;
  }

  async function tryApi(path) {
    try {
      return await api(path);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }

  // table(["Height", ...], rows, {num: [0]}) with cells as strings or nodes.
  function table(headers, rows, options) {
    const numeric = new Set((options && options.num) || []);
    const head = el("tr", {}, headers.map((h, i) => el("th", { class: numeric.has(i) ? "num" : null }, h)));
    const body = rows.map((row) => {
      const cells = row.cells || row;
      return el("tr", { class: row.fresh ? "fresh" : null, "data-key": row.key },
        cells.map((c, i) => el("td", { class: numeric.has(i) ? "num" : null }, c)));
    });
    if (!rows.length) {
      body.push(el("tr", {}, el("td", { colspan: headers.length, class: "muted" }, "nothing here")));
    }
    return el("div", { class: "scroll" }, el("table", {}, el("thead", {}, head), el("tbody", {}, body)));
  }

  function kv(pairs) {
    return el("dl", { class: "kv" }, pairs.filter((p) => p).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  }

  function chips(values) {
    if (!values || !values.length) return el("span", { class: "muted" }, "none");
    return values.map((v) => el("span", { class: "chip" }, v));
  }

  function verdict(ok, yes, no) {
    return el("span", { class: ok ? "ok" : "bad" }, ok ? yes : no);
  }

  function main() {
    return document.getElementById("main");
  }

  function show(...nodes) {
    const target = main();
    target.replaceChildren();
    append(target, nodes);
  }

  function showError(error) {
    show(el("h1", {}, "Could not load this page"), el("p", { class: "error" }, String(error.message || error)));
  }

  // "#/block/5?x=1" -> {name: "block", args: ["5"], query: URLSearchParams}
  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, "");
    const [path, search] = raw.split("?", 2);
    const parts = path.split("/").filter((p) => p).map(decodeURIComponent);
    return { name: parts[0] || "", args: parts.slice(1), query: new URLSearchParams(search || "") };
  }

  async function route() {
    const mine = ++generation;
    onHeight = null;
    const where = parseHash();
    const page = pages[where.name] || pages["?"];
    try {
      // A page returns its nodes and, optionally, what to do when the height moves.
      const result = await page(where);
      if (mine !== generation) return; // the user went elsewhere meanwhile
      show(result.nodes);
      onHeight = result.onHeight || null;
      document.title = `${result.title || "explorer"} · iomtshare`;
    } catch (error) {
      if (mine === generation) showError(error);
    }
  }

  // Whether a render that started at generation `mine` still owns the page.
  function current(mine) {
    return mine === generation;
  }

  async function poll() {
    const live = document.getElementById("live");
    try {
      const status = await api("/status");
      document.getElementById("height").textContent = String(status.height);
      document.getElementById("chain").textContent = `${status.chain_id} · node ${status.node_index}`;
      live.classList.toggle("stale", false);
      live.title = status.syncing ? "catching up with the chain" : `round ${status.round}`;
      if (lastHeight !== null && status.height !== lastHeight && onHeight) {
        const mine = generation;
        try {
          await onHeight(status.height, mine);
        } catch (error) {
          if (current(mine)) showError(error);
        }
      }
      lastHeight = status.height;
    } catch (_) {
      live.classList.toggle("stale", true);
      live.title = "the node does not answer";
    }
    setTimeout(poll, POLL_MS);
  }

  function search(event) {
    event.preventDefault();
    const q = document.getElementById("q").value.trim().toLowerCase();
    if (/^[0-9]{1,20}$/.test(q)) {
      location.hash = href("block", q);
    } else if (/^[0-9a-f]{64}$/.test(q)) {
      location.hash = href("find", q);
    } else {
      show(el("h1", {}, "Nothing to look up"),
        el("p", { class: "error" }, "Give a block height or a 64-character hex id."));
    }
  }

  function start() {
    document.getElementById("search").addEventListener("submit", search);
    window.addEventListener("hashchange", route);
    route();
    poll();
  }

  document.addEventListener("DOMContentLoaded", start);

  return {
    pages, el, href, short, idLink, hexText, when, ago, timeCell, api, tryApi, table, kv,
    chips, verdict, current, ApiError,
  };
})();
