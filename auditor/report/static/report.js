/* The report's only script: sortable and filterable tables, and the figures.
   plotly.js travels inside the page gzip-compressed (base64); it is unpacked here with the
   browser's DecompressionStream and run from a script element. Nothing is fetched. */
(function () {
  "use strict";

  function cellValue(td) {
    var s = (td.textContent || "").trim();
    var n = parseFloat(s.replace(/[\s\u00a0,]/g, "").replace(/^'/, ""));
    if (/^[-+]?[\d\s\u00a0,.]+(e[-+]?\d+)?$/i.test(s) && !isNaN(n)) {
      if (document.documentElement.lang === "ru") {
        n = parseFloat(s.replace(/[\s\u00a0]/g, "").replace(",", "."));
      }
      return { num: true, v: n };
    }
    return { num: false, v: s.toLowerCase() };
  }

  function sortTable(table, col, th) {
    var body = table.tBodies[0];
    if (!body) return;
    var asc = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(th.parentNode.children, function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    var keyed = rows.map(function (r, i) {
      var td = r.cells[col];
      return { r: r, i: i, k: td ? cellValue(td) : { num: false, v: "" } };
    });
    keyed.sort(function (a, b) {
      var x = a.k, y = b.k, c;
      if (x.num && y.num) c = x.v - y.v;
      else if (x.num !== y.num) c = x.num ? -1 : 1;
      else c = x.v < y.v ? -1 : x.v > y.v ? 1 : 0;
      if (!asc) c = -c;
      return c || a.i - b.i;
    });
    var frag = document.createDocumentFragment();
    keyed.forEach(function (k) { frag.appendChild(k.r); });
    body.appendChild(frag);
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var head = table.tHead && table.tHead.rows[0];
    if (!head) return;
    Array.prototype.forEach.call(head.cells, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortTable(table, col, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortTable(table, col, th); }
      });
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll("input.filter"), function (input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    if (!table || !table.tBodies[0]) return;
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        r.hidden = q !== "" && (r.textContent || "").toLowerCase().indexOf(q) < 0;
      });
    });
  });

  // Printing shows every explanation, since a reader of paper cannot click.
  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) {
      d.open = true;
    });
  });

  var dataEl = document.getElementById("figdata");
  var gzEl = document.getElementById("plotly-gz");
  if (!dataEl || !gzEl) return;
  var figs = JSON.parse(dataEl.textContent);

  // the "loading the figures…" notes stay until the figures are drawn (or cannot be)
  function clearLoading() {
    Array.prototype.forEach.call(document.querySelectorAll(".fig-loading"), function (p) {
      p.parentNode.removeChild(p);
    });
  }

  function missing(msg) {
    clearLoading();
    Array.prototype.forEach.call(document.querySelectorAll(".fig"), function (div) {
      var p = document.createElement("p");
      p.className = "fig-missing";
      p.textContent = msg;
      div.appendChild(p);
    });
  }

  function draw() {
    var config = { displaylogo: false, responsive: true,
      modeBarButtonsToRemove: ["sendDataToCloud", "lasso2d", "select2d"] };
    clearLoading();
    Object.keys(figs).sort().forEach(function (id) {
      var div = document.getElementById(id);
      if (!div) return;
      window.Plotly.newPlot(div, figs[id].data, figs[id].layout, config);
    });
    document.documentElement.setAttribute("data-figures", "ready");
  }

  if (typeof DecompressionStream === "undefined" || typeof Blob === "undefined") {
    missing(gzEl.getAttribute("data-missing"));
    return;
  }
  var b64 = gzEl.textContent.replace(/\s+/g, "");
  var bin = atob(b64);
  var bytes = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  new Response(stream).text().then(function (code) {
    var s = document.createElement("script");
    s.textContent = code;
    document.head.appendChild(s);
    draw();
  }).catch(function (err) {
    missing(gzEl.getAttribute("data-missing") + " (" + err + ")");
  });
})();
