"use strict";
// Sorting, filtering and a view kept in the URL's fragment (#kind=...&sort=...).
(function () {
  const state = { s: "", kind: "", latency: "", stack: "", sort: "" };
  const keys = Object.keys(state);

  function number(text) {
    const found = text.replace(/,/g, "").match(/-?\d+(\.\d+)?/);
    return found ? parseFloat(found[0]) : null;
  }

  function sortTable(table, col, dir) {
    const head = table.tHead.rows[0].cells;
    const numeric = head[col].dataset.numeric === "yes";
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    rows.sort(function (a, b) {
      const x = a.cells[col].textContent.trim();
      const y = b.cells[col].textContent.trim();
      if (numeric) {
        const p = number(x), q = number(y);
        if (p === null && q === null) return 0;
        if (p === null) return 1;  // no figure sorts last either way
        if (q === null) return -1;
        return dir === "ascending" ? p - q : q - p;
      }
      return dir === "ascending" ? x.localeCompare(y) : y.localeCompare(x);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.from(head).forEach(function (th, i) {
      th.setAttribute("aria-sort", i === col ? dir : "none");
    });
  }

  function matches(element) {
    const kind = element.dataset.kind, latency = element.dataset.latency;
    return (!state.kind || !kind || kind === state.kind) &&
      (!state.latency || !latency || latency === state.latency);
  }

  function apply() {
    document.querySelectorAll(".part").forEach(function (part) {
      part.classList.toggle("hidden", !matches(part));
    });
    document.querySelectorAll("section.block").forEach(function (block) {
      const parts = block.querySelectorAll(".part");
      const shown = block.querySelectorAll(".part:not(.hidden)");
      block.classList.toggle("hidden", parts.length > 0 && shown.length === 0);
    });
    document.querySelectorAll("tbody tr").forEach(function (row) {
      const stacks = (row.dataset.stacks || "").split(" ");
      const stackOk = !state.stack || row.closest("#answer") !== null ||
        stacks.indexOf(state.stack) >= 0;
      row.classList.toggle("hidden", !stackOk || !matches(row));
    });
    ["kind", "latency", "stack"].forEach(function (name) {
      document.getElementById(name).value = state[name];
    });
  }

  function save() {
    const parts = keys.filter(function (k) { return state[k]; }).map(function (k) {
      return k + "=" + encodeURIComponent(state[k]);
    });
    history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname);
  }

  function load() {
    const hash = location.hash.slice(1);
    if (hash.indexOf("=") < 0) {
      if (hash) state.s = decodeURIComponent(hash);
      return;
    }
    hash.split("&").forEach(function (pair) {
      const at = pair.indexOf("=");
      const key = pair.slice(0, at), value = decodeURIComponent(pair.slice(at + 1));
      if (keys.indexOf(key) >= 0) state[key] = value;
    });
  }

  function applySort() {
    if (!state.sort) return;
    const bits = state.sort.split(":");
    const table = document.getElementById(bits[0]);
    if (table) sortTable(table, parseInt(bits[1], 10), bits[2] === "descending" ? "descending" : "ascending");
  }

  function go(id) {
    const target = document.getElementById(id);
    if (target) (target.closest(".part") || target).scrollIntoView();
  }

  document.querySelectorAll("table.sortable th button").forEach(function (button) {
    button.addEventListener("click", function () {
      const th = button.parentElement, table = th.closest("table");
      const dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
      state.sort = table.id + ":" + button.dataset.col + ":" + dir;
      sortTable(table, parseInt(button.dataset.col, 10), dir);
      save();
    });
  });
  ["kind", "latency", "stack"].forEach(function (name) {
    document.getElementById(name).addEventListener("change", function (event) {
      state[name] = event.target.value;
      apply();
      save();
    });
  });
  document.getElementById("reset").addEventListener("click", function () {
    state.kind = state.latency = state.stack = state.sort = "";
    apply();
    save();
  });
  document.querySelectorAll('a[href^="#"]').forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      state.s = link.getAttribute("href").slice(1);
      save();
      go(state.s);
    });
  });

  load();
  applySort();
  apply();
  if (state.s) go(state.s);
  document.body.dataset.ready = "yes";
}());
