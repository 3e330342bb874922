// The report's only script: the op timeline and the Lamport diagram on two canvases that share
// one time window, their filters, and the links from findings and trails to ops and messages.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var M = D.m, O = D.ops, nM = M.s.length, nO = O.i.length;
  var END = Math.max(D.end, 1), LABEL = 96, TROW = 12;
  var ROW = Math.max(14, Math.min(36, Math.floor(600 / Math.max(D.lanes.length, 1))));
  var view = { a: 0, b: END };
  var hl = new Set(), hlOps = new Set(), selOp = -1, pinned = -1;
  var vis = new Uint8Array(nM).fill(1);
  var laneOn = new Uint8Array(D.lanes.length).fill(1), laneY = [];
  var $ = function (id) { return document.getElementById(id); };
  var opAt = new Map();
  for (var k = 0; k < nO; k++) { opAt.set(O.i[k], k); if (O.c[k] != null) opAt.set(O.c[k], k); }
  var procs = Array.from(new Set(O.p)).sort(function (x, y) { return (+x) - (+y) || (x < y ? -1 : 1); });
  var procRow = new Map(procs.map(function (p, i) { return [p, i]; }));

  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }
  function fmt(t) { return (t / 1e6).toFixed(Math.max(0, Math.min(6, 3 - Math.floor(Math.log10(Math.max(view.b - view.a, 1) / 1e6))))) + " s"; }

  // ---- filters -------------------------------------------------------------------------
  function valueTest(text) {
    text = text.trim();
    if (!text) return null;
    var lit = text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    var re = /^-?\d+(\.\d+)?$/.test(text) ? new RegExp("(^|[^\\w.\"-])" + lit + "(?![\\w.])") : new RegExp(lit);
    return function (body) { return re.test(body.replace(/"(msg_id|in_reply_to)":\d+/g, "")); };
  }
  function applyFilters() {
    var names = $("fnodes").value.split(/[\s,]+/).filter(Boolean);
    var nodeSet = names.length ? new Set(names) : null;
    var types = new Set();
    document.querySelectorAll("#typelist input").forEach(function (c) { if (c.checked) types.add(+c.value); });
    var clients = $("fclients").checked, vt = valueTest($("fvalue").value), shown = 0;
    var isClient = D.parts.map(function (p) { return /^c\d+$/.test(p); });
    laneOn.fill(nodeSet ? 0 : 1);
    for (var i = 0; i < nM; i++) {
      var s = M.s[i], d = M.d[i], ok = types.has(M.ty[i]);
      if (ok && !clients && (isClient[s] || isClient[d])) ok = false;
      if (ok && nodeSet && !nodeSet.has(D.parts[s]) && !nodeSet.has(D.parts[d])) ok = false;
      if (ok && vt && !vt(M.b[i])) ok = false;
      vis[i] = ok ? 1 : 0;
      if (ok) { shown++; if (nodeSet) { laneOn[D.lane[s]] = 1; laneOn[D.lane[d]] = 1; } }
    }
    if (nodeSet) D.parts.forEach(function (p, i) { if (nodeSet.has(p)) laneOn[D.lane[i]] = 1; });
    var y = 22;
    for (var l = 0; l < D.lanes.length; l++) { laneY[l] = laneOn[l] ? y : -1; if (laneOn[l]) y += ROW; }
    $("mcount").textContent = shown + " of " + nM + " messages shown";
    redraw();
  }

  // ---- drawing -------------------------------------------------------------------------
  function setup(c, h) {
    var r = window.devicePixelRatio || 1, w = c.clientWidth || 900;
    c.width = Math.round(w * r); c.height = Math.round(h * r); c.style.height = h + "px";
    var g = c.getContext("2d"); g.setTransform(r, 0, 0, r, 0, 0); g.clearRect(0, 0, w, h);
    g.font = "11px system-ui,sans-serif";
    return { g: g, w: w, h: h };
  }
  function X(t, w) { return LABEL + (t - view.a) / (view.b - view.a) * (w - LABEL - 8); }
  function T(x, w) { return view.a + (x - LABEL) / (w - LABEL - 8) * (view.b - view.a); }
  function axis(g, w, h) {
    var span = view.b - view.a, step = Math.pow(10, Math.floor(Math.log10(span / 6)));
    if (span / step > 12) step *= 2;
    if (span / step > 12) step *= 2.5;
    g.fillStyle = "#555"; g.strokeStyle = "#eee";
    for (var t = Math.ceil(view.a / step) * step; t <= view.b; t += step) {
      var x = X(t, w);
      g.beginPath(); g.moveTo(x, 14); g.lineTo(x, h); g.stroke();
      g.fillText(fmt(t), x + 2, 11);
    }
  }
  function shade(g, w, h) {
    g.fillStyle = "rgba(255,80,80,0.09)";
    D.periods.forEach(function (p) {
      var a = Math.max(X(p[0], w), LABEL), b = Math.min(X(p[1], w), w);
      if (b > a) g.fillRect(a, 14, b - a, h - 14);
    });
  }
  var drawn = [];
  function drawDiagram() {
    var rows = laneY.filter(function (y) { return y >= 0; }).length;
    var c = setup($("lamport"), 30 + rows * ROW), g = c.g, w = c.w;
    shade(g, w, c.h); axis(g, w, c.h);
    g.fillStyle = "#222";
    for (var l = 0; l < D.lanes.length; l++) {
      if (laneY[l] < 0) continue;
      var client = D.lanes[l].indexOf("clients") === 0;
      g.fillStyle = client ? "#789" : "#222"; g.fillText(D.lanes[l], 4, laneY[l] + 4);
      g.strokeStyle = client ? "#dde" : "#bbb"; g.beginPath(); g.moveTo(LABEL, laneY[l]); g.lineTo(w, laneY[l]); g.stroke();
    }
    drawn = [];
    var count = 0, delivered = 0, heads = [];
    for (var i = 0; i < nM; i++) {
      if (!vis[i] || M.t1[i] < view.a || M.t0[i] > view.b) continue;
      var y1 = laneY[D.lane[M.s[i]]], y2 = laneY[D.lane[M.d[i]]];
      if (y1 < 0 || y2 < 0) continue;
      count++;
      if (M.st[i] === 0) delivered++;
      drawn.push(i);
    }
    // Thousands of arrows on a few hundred pixels: fainter, so that density reads as shade.
    var dense = count > 3000, alpha = Math.max(0.06, Math.min(0.85, 1500 / Math.max(count, 1)));
    function line(i, colour, width, dash) {
      var x1 = X(M.t0[i], w), x2 = X(M.t1[i], w), y1 = laneY[D.lane[M.s[i]]], y2 = laneY[D.lane[M.d[i]]];
      g.strokeStyle = colour; g.lineWidth = width; g.setLineDash(dash || []);
      g.beginPath(); g.moveTo(x1, y1); g.lineTo(x2, y2); g.stroke();
      return [x1, y1, x2, y2];
    }
    var isClientPart = D.parts.map(function (p) { return /^c\d+$/.test(p); });
    for (var j = 0; j < drawn.length; j++) {
      i = drawn[j];
      var err = D.types[M.ty[i]] === "error", client = isClientPart[M.s[i]] || isClientPart[M.d[i]];
      if (M.st[i] === 1) {
        var p = line(i, "rgba(210,0,0,0.8)", 1, [4, 3]);
        g.setLineDash([]); g.beginPath(); g.moveTo(p[2] - 3, p[3] - 3); g.lineTo(p[2] + 3, p[3] + 3);
        g.moveTo(p[2] - 3, p[3] + 3); g.lineTo(p[2] + 3, p[3] - 3); g.stroke();
      } else if (M.st[i] === 2) {
        line(i, "rgba(120,120,120,0.6)", 1, [2, 3]);
      } else {
        var q = line(i, err ? "rgba(210,0,0,0.9)" : client ? "rgba(70,110,150," + alpha + ")" : "rgba(20,20,20," + alpha + ")", 1);
        if (!dense) heads.push(q);
      }
    }
    g.setLineDash([]); g.fillStyle = "#333";
    heads.forEach(function (q) {
      var dx = q[2] - q[0], dy = q[3] - q[1], len = Math.hypot(dx, dy);
      if (len < 10) return;
      var ux = dx / len, uy = dy / len;
      g.beginPath(); g.moveTo(q[2], q[3]); g.lineTo(q[2] - 6 * ux + 3 * uy, q[3] - 6 * uy - 3 * ux);
      g.lineTo(q[2] - 6 * ux - 3 * uy, q[3] - 6 * uy + 3 * ux); g.fill();
    });
    hl.forEach(function (i) {
      var y1 = laneY[D.lane[M.s[i]]], y2 = laneY[D.lane[M.d[i]]];
      if (y1 >= 0 && y2 >= 0 && !(M.t1[i] < view.a || M.t0[i] > view.b)) line(i, "rgba(255,120,0,0.95)", 3, M.st[i] ? [5, 3] : []);
    });
    if (pinned >= 0 && laneY[D.lane[M.s[pinned]]] >= 0 && laneY[D.lane[M.d[pinned]]] >= 0) line(pinned, "#e0f", 3);
    g.lineWidth = 1;
    return delivered;
  }
  var opBoxes = [];
  function drawTimeline() {
    var c = setup($("tl"), 24 + procs.length * TROW), g = c.g, w = c.w;
    shade(g, w, c.h); axis(g, w, c.h);
    procs.forEach(function (p, r) { g.fillStyle = "#222"; g.fillText("process " + p, 4, 24 + r * TROW + 8); });
    opBoxes = [];
    var colours = { ok: "#8fd19e", fail: "#f2a2a2", info: "#f7d37a" };
    for (var k = 0; k < nO; k++) {
      var t1 = O.t1[k] == null ? END : O.t1[k];
      if (t1 < view.a || O.t0[k] > view.b) continue;
      var x1 = X(O.t0[k], w), x2 = Math.max(X(t1, w), x1 + 1), y = 18 + procRow.get(O.p[k]) * TROW;
      g.fillStyle = colours[O.o[k]] || "#ccc"; g.fillRect(x1, y, x2 - x1, TROW - 2);
      if (k === selOp || hlOps.has(k)) { g.strokeStyle = "#e60"; g.lineWidth = 2; g.strokeRect(x1, y, x2 - x1, TROW - 2); g.lineWidth = 1; }
      if (x2 - x1 > 40) { g.fillStyle = "#222"; g.fillText(O.f[k], x1 + 2, y + 9); }
      opBoxes.push([k, x1, y, x2, y + TROW - 2]);
    }
  }
  function redraw() {
    var text = "time window " + fmt(view.a) + " – " + fmt(view.b) + " of " + (END / 1e6).toFixed(3) + " s";
    document.querySelectorAll(".range").forEach(function (r) { r.textContent = text; });
    drawTimeline();
    return drawDiagram();
  }

  // ---- navigation ----------------------------------------------------------------------
  function zoom(f, t) {
    var a = t - (t - view.a) * f, b = t + (view.b - t) * f;
    setView(a, b);
  }
  function setView(a, b) {
    var span = Math.min(Math.max(b - a, 2), END);
    a = Math.max(0, Math.min(a, END - span));
    view = { a: a, b: a + span };
    redraw();
  }
  function hook(c, onHover, onClick) {
    var drag = null;
    c.addEventListener("wheel", function (e) {
      e.preventDefault();
      zoom(Math.pow(1.2, e.deltaY / 100), T(e.offsetX, c.clientWidth));
    }, { passive: false });
    c.addEventListener("mousedown", function (e) { drag = { x: e.clientX, a: view.a, b: view.b, moved: false }; });
    window.addEventListener("mouseup", function (e) {
      if (drag && !drag.moved && e.target === c) onClick(e);
      drag = null;
    });
    c.addEventListener("mousemove", function (e) {
      if (drag) {
        var dt = (e.clientX - drag.x) / (c.clientWidth - LABEL - 8) * (drag.b - drag.a);
        if (Math.abs(e.clientX - drag.x) > 3) drag.moved = true;
        if (drag.moved) setView(drag.a - dt, drag.b - dt);
      } else onHover(e);
    });
    c.addEventListener("mouseleave", function () { $("tip").hidden = true; });
    c.addEventListener("dblclick", function () { setView(0, END); });
  }
  function nearestMessage(e) {
    var w = $("lamport").clientWidth, best = -1, bd = 6;
    for (var j = 0; j < drawn.length; j++) {
      var i = drawn[j], x1 = X(M.t0[i], w), x2 = X(M.t1[i], w), y1 = laneY[D.lane[M.s[i]]], y2 = laneY[D.lane[M.d[i]]];
      var dx = x2 - x1, dy = y2 - y1, l2 = dx * dx + dy * dy;
      var u = l2 ? Math.max(0, Math.min(1, ((e.offsetX - x1) * dx + (e.offsetY - y1) * dy) / l2)) : 0;
      var d = Math.hypot(e.offsetX - x1 - u * dx, e.offsetY - y1 - u * dy);
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }
  function tip(e, html) {
    var t = $("tip");
    if (!html) { t.hidden = true; return; }
    t.innerHTML = html; t.hidden = false;
    t.style.left = Math.min(e.clientX + 14, window.innerWidth - 540) + "px"; t.style.top = (e.clientY + 14) + "px";
  }
  var FATE = ["delivered", "dropped by a partition", "in flight at the end"];
  function msgText(i) {
    return "#" + M.id[i] + " " + esc(D.parts[M.s[i]]) + " → " + esc(D.parts[M.d[i]]) + " · sent " + (M.t0[i] / 1e6).toFixed(6) +
      " s · " + FATE[M.st[i]] + (M.st[i] === 2 ? "" : " at " + (M.t1[i] / 1e6).toFixed(6) + " s") + "<br>" + esc(M.b[i]);
  }
  function opText(k) {
    return "<b>op " + O.i[k] + "</b> · process " + esc(O.p[k]) + " · " + esc(O.f[k]) + " " + esc(O.v[k]) + " → <b>" + O.o[k] + "</b> " +
      (O.r[k] != null ? esc(O.r[k]) : "") + (O.e[k] ? " error " + esc(O.e[k]) : "") + (O.fin[k] ? " (final)" : "") +
      "<br>invoked " + (O.t0[k] / 1e6).toFixed(6) + " s" + (O.t1[k] != null ? ", completed " + (O.t1[k] / 1e6).toFixed(6) + " s" : ", never completed");
  }
  function inspect(html) { $("inspect").innerHTML = html; $("inspector").hidden = false; }
  function showMsg(i) {
    pinned = i;
    inspect(msgText(i));
    var pad = Math.max((M.t1[i] - M.t0[i]) * 2, 2000);
    setView(M.t0[i] - pad, M.t1[i] + pad);
  }
  function selectOp(index, scroll) {
    var k = opAt.get(index);
    if (k === undefined) { inspect("op " + index + " is not a client op of this history (a nemesis op?)"); return; }
    selOp = k; hl = new Set(O.m[k]); hlOps = new Set();
    var list = O.m[k].map(function (i) { return "<li><a href=\"#msg-" + i + "\" data-msg=\"" + i + "\">" + msgText(i).split("<br>")[0] + "</a></li>"; }).join("");
    inspect(opText(k) + (D.journal ? "<br>" + O.m[k].length + " message(s):<ul>" + list + "</ul>" : "<br>(no message journal)"));
    var t1 = O.t1[k] == null ? END : O.t1[k], pad = Math.max((t1 - O.t0[k]) * 0.5, 1000);
    setView(O.t0[k] - pad, t1 + pad);
    if (scroll) $("diagram").scrollIntoView();
  }
  function showTrail(id) {
    var t = D.trails[id];
    if (!t) return;
    hl = new Set(t.m); selOp = -1;
    hlOps = new Set((t.o || []).map(function (i) { return opAt.get(i); }));
    if (t.v != null) { $("fvalue").value = t.v; }
    applyFilters();
    // Frame the messages between servers (and the client's request): the reads come later.
    var a = END, b = 0, cl = /^c\d+$/;
    t.m.forEach(function (i, n) {
      if (n > 0 && (cl.test(D.parts[M.s[i]]) || cl.test(D.parts[M.d[i]]))) return;
      a = Math.min(a, M.t0[i]); b = Math.max(b, M.t1[i]);
    });
    // A trail of client messages only (kafka, txn): frame them all.
    if (b <= a) t.m.forEach(function (i) { a = Math.min(a, M.t0[i]); b = Math.max(b, M.t1[i]); });
    if (b > a) setView(a - (b - a) * 0.05, b + (b - a) * 0.05);
    $("diagram").scrollIntoView();
  }

  hook($("lamport"), function (e) {
    var i = nearestMessage(e);
    tip(e, i >= 0 ? msgText(i) : null);
  }, function (e) {
    var i = nearestMessage(e);
    if (i >= 0) { pinned = i; inspect(msgText(i)); redraw(); }
  });
  function opUnder(e) {
    for (var j = 0; j < opBoxes.length; j++) {
      var b = opBoxes[j];
      if (e.offsetX >= b[1] - 1 && e.offsetX <= b[3] + 1 && e.offsetY >= b[2] && e.offsetY <= b[4]) return b[0];
    }
    return -1;
  }
  hook($("tl"), function (e) { var k = opUnder(e); tip(e, k >= 0 ? opText(k) : null); },
    function (e) { var k = opUnder(e); if (k >= 0) selectOp(O.i[k], false); });

  document.addEventListener("click", function (e) {
    var a = e.target.closest("a,button");
    if (!a) return;
    var href = a.getAttribute("href") || "";
    if (a.dataset.msg !== undefined) { e.preventDefault(); showMsg(+a.dataset.msg); $("diagram").scrollIntoView(); }
    else if (/^#op-\d+$/.test(href)) { e.preventDefault(); selectOp(+href.slice(4), true); }
    else if (a.classList.contains("show-trail")) { history.replaceState(null, "", "#show-" + a.dataset.trail); showTrail(a.dataset.trail); }
    else if (a.classList.contains("trail-link")) { var t = document.getElementById(href.slice(1)); if (t) t.open = true; }
  });
  $("fit").onclick = function () { setView(0, END); };
  $("zin").onclick = function () { zoom(0.5, (view.a + view.b) / 2); };
  $("zout").onclick = function () { zoom(2, (view.a + view.b) / 2); };
  $("close").onclick = function () { $("inspector").hidden = true; pinned = -1; hl = new Set(); hlOps = new Set(); selOp = -1; redraw(); };
  $("clear").onclick = function () {
    $("fnodes").value = ""; $("fvalue").value = ""; $("fclients").checked = true;
    document.querySelectorAll("#typelist input").forEach(function (c) { c.checked = true; });
    applyFilters();
  };
  ["fnodes", "fvalue"].forEach(function (id) { $(id).addEventListener("change", applyFilters); });
  $("fclients").addEventListener("change", applyFilters);
  $("typelist").innerHTML = D.types.map(function (t, i) {
    return "<label><input type=\"checkbox\" value=\"" + i + "\" checked> " + esc(t) + "</label>";
  }).join("");
  $("typelist").addEventListener("change", applyFilters);
  var resizing = 0;
  window.addEventListener("resize", function () { clearTimeout(resizing); resizing = setTimeout(redraw, 100); });

  // ---- first draw and the page's own checks (read by the browser tests) ------------------
  applyFilters();
  var arrows = redraw(), delivered = 0;
  for (var i = 0; i < nM; i++) if (M.st[i] === 0) delivered++;
  var links = document.querySelectorAll("a.trail-link"), linked = 0;
  links.forEach(function (a) { if (document.getElementById(a.getAttribute("href").slice(1))) linked++; });
  var s = $("selfcheck");
  s.dataset.arrows = arrows; s.dataset.delivered = delivered; s.dataset.messages = nM;
  s.dataset.ops = nO; s.dataset.trailLinks = links.length; s.dataset.trailLinksOk = linked;
  // Milliseconds from navigation to the first drawing done (parse, data, canvases).
  s.dataset.readyMs = Math.round(performance.now());
  if (!window.__errors.length) s.dataset.status = "ok";
  var h = location.hash;
  if (/^#op-\d+$/.test(h)) selectOp(+h.slice(4), true);
  else if (h.indexOf("#show-") === 0) showTrail(h.slice(6));
  else if (/^#trail-/.test(h) && $(h.slice(1))) { $(h.slice(1)).open = true; $(h.slice(1)).scrollIntoView(); }
})();
