/*
 * neurona playground -- the page's script (plain JavaScript, no libraries, no build).
 *
 * What it does, in order:
 *   1. reads the configuration from the URL hash (#dataset=spiral&networkShape=4,2&...,
 *      the TensorFlow Playground's names) and creates a session on the server
 *      (POST /api/sessions); the server trains a neurona network for this tab;
 *   2. draws what the server sends: the output heatmap (a 100 x 100 grid over [-6, 6]^2),
 *      the data points, one thumbnail heatmap per neuron, the links (width and colour by
 *      weight), the bias squares, the losses and the loss chart;
 *   3. sends every change of a control to the server (POST .../config) and rewrites the
 *      hash, so the address always reproduces what is on screen;
 *   4. while playing, the server trains in its own rhythm and pushes frames over a
 *      WebSocket; the page draws the newest frame at most 30 times a second
 *      (requestAnimationFrame), so training speed and drawing speed are independent.
 *
 * The server API is documented in neurona/playground/server.py.
 */
"use strict";

(function () {
  // ------------------------------------------------------------------ constants

  /** The input features, in the engine's fixed order. */
  var FEATURES = ["x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY"];
  var FEATURE_LABELS = {
    x: "X\u2081", y: "X\u2082", xSquared: "X\u2081\u00b2", ySquared: "X\u2082\u00b2",
    xTimesY: "X\u2081X\u2082", sinX: "sin(X\u2081)", sinY: "sin(X\u2082)"
  };
  /** Each feature as a function of the point (x1, x2): drawn in the feature thumbnails. */
  var FEATURE_FUNCTIONS = {
    x: function (a, b) { return a; },
    y: function (a, b) { return b; },
    xSquared: function (a, b) { return a * a; },
    ySquared: function (a, b) { return b * b; },
    xTimesY: function (a, b) { return a * b; },
    sinX: function (a, b) { return Math.sin(a); },
    sinY: function (a, b) { return Math.sin(b); }
  };
  /** The configuration keys (the URL hash holds exactly these) and their types. */
  var BOOL_KEYS = FEATURES.concat(["showTestData", "discretize"]);
  var NUMBER_KEYS = ["noise", "percTrainData", "learningRate", "regularizationRate",
    "batchSize", "stopEpoch", "stopLoss", "initSeed"];
  var CONFIG_KEYS = ["activation", "batchSize", "dataset", "regDataset", "learningRate",
    "regularizationRate", "noise", "networkShape", "seed", "showTestData", "discretize",
    "percTrainData", "x", "y", "xTimesY", "xSquared", "ySquared", "sinX", "sinY",
    "problem", "regularization", "loss", "optimizer", "stopEpoch", "stopLoss", "initSeed"];
  /** Changing one of these gives new data or a new network: training pauses, like the original. */
  var RESET_KEYS = ["problem", "dataset", "regDataset", "noise", "percTrainData", "seed",
    "networkShape", "activation", "loss", "initSeed"].concat(FEATURES);
  /** Drawn by the page only (the server stores them too, so they round-trip). */
  var DISPLAY_KEYS = ["showTestData", "discretize"];

  var MAX_LAYERS = 6, MAX_NEURONS = 8, DENSITY = 100;
  var MAX_FPS = 30, FRAME_MS = 1000 / MAX_FPS;
  var DOMAIN = 6;                      // the data lives in [-6, 6]^2
  var NAN_COLOR = [0x99, 0x99, 0x99];  // "#999999": a NaN output (diverged network)
  /** Class colours for multi-class data (class 0 orange and 1 blue, like the two-class case). */
  var CLASS_COLORS = ["#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f"];

  // ------------------------------------------------------------------ colours

  function hexToRgb(hex) {
    var n = parseInt(hex.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  var STOPS = [hexToRgb("#f59322"), hexToRgb("#e8eaeb"), hexToRgb("#0877bd")];

  /**
   * The playground's colour scale: a linear map of v in [-1, 0, 1] to orange, light grey,
   * blue (values outside are clamped), as d3.scale.linear().domain([-1, 0, 1]) does.
   * Returns [r, g, b]; NaN gives grey.
   */
  function colorOf(v) {
    if (v !== v || v === null || v === undefined) return NAN_COLOR;   // v !== v: NaN
    if (v < -1) v = -1; else if (v > 1) v = 1;
    var a, b, t;
    if (v < 0) { a = STOPS[0]; b = STOPS[1]; t = v + 1; } else { a = STOPS[1]; b = STOPS[2]; t = v; }
    return [Math.round(a[0] + (b[0] - a[0]) * t), Math.round(a[1] + (b[1] - a[1]) * t),
      Math.round(a[2] + (b[2] - a[2]) * t)];
  }
  // A lookup table of 513 colours over [-1, 1] (the heatmaps draw 10,000 cells per frame).
  var LUT_SIZE = 512, LUT = [];
  for (var li = 0; li <= LUT_SIZE; li++) LUT.push(colorOf(li / LUT_SIZE * 2 - 1));
  function lutColor(v) {
    if (v !== v) return NAN_COLOR;
    if (v <= -1) return LUT[0];
    if (v >= 1) return LUT[LUT_SIZE];
    return LUT[Math.round((v + 1) / 2 * LUT_SIZE)];
  }
  function cssColor(rgb) { return "rgb(" + rgb[0] + "," + rgb[1] + "," + rgb[2] + ")"; }

  // ------------------------------------------------------------------ page state

  var $ = function (sel) { return document.querySelector(sel); };
  var $$ = function (sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); };

  var sessionId = null;
  var config = {};          // the server's config (typed: numbers, bools, "4,2" shapes)
  var network = null;       // engine.network(): layers, weights, biases, dead
  var points = { train: [], test: [] };
  var metrics = null;
  var grid = null;          // decoded: {density, output: Float32Array, neurons: {id: ...}, classes}
  var lossHistory = [];     // [[epoch, train, test], ...] for the loss chart
  var playing = false;
  var socket = null;
  var pendingFrame = null, drawScheduled = false, lastDraw = 0;
  var pending = 0;          // requests in flight (body[data-pending], for tests)
  var messageFromMetrics = false;
  var lastHash = "";
  var layout = null;        // node positions of the network drawing
  var framesDrawn = 0;      // frames drawn while playing (window.playground.framesDrawn)
  var hoverNode = null;     // the neuron under the mouse: the big heatmap shows it

  // ------------------------------------------------------------------ helpers

  function shapeOf(value) {
    // networkShape "8,4" (or a list) -> [8, 4]; "" -> []
    if (Array.isArray(value)) return value.map(Number);
    var s = String(value === undefined || value === null ? "" : value).trim();
    return s ? s.split(",").map(function (p) { return parseInt(p, 10); }) : [];
  }

  function formatEpoch(n) {
    // 123 -> "000,123" (the original's counter)
    var s = String(Math.max(0, n | 0));
    while (s.length < 6) s = "0" + s;
    return s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function formatNumber(v, digits) {
    if (v === null || v === undefined || v !== v) return "NaN";
    return Number(v).toFixed(digits);
  }

  /** base64 of little-endian float32 bytes -> Float32Array (NaN survives). */
  function decodeFloats(b64) {
    var bin = atob(b64), n = bin.length, bytes = new Uint8Array(n);
    for (var i = 0; i < n; i++) bytes[i] = bin.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  }

  function decodeGrid(g) {
    var out = { density: g.density, output: decodeFloats(g.output), neurons: {}, classes: null };
    Object.keys(g.neurons || {}).forEach(function (id) { out.neurons[id] = decodeFloats(g.neurons[id]); });
    if (g.classes) out.classes = g.classes.map(decodeFloats);
    return out;
  }

  function setPending(delta) {
    pending += delta;
    document.body.dataset.pending = String(pending);
  }

  function showMessage(text, fromMetrics) {
    var box = $("#message");
    if (!text) { box.hidden = true; box.textContent = ""; messageFromMetrics = false; return; }
    box.textContent = text;
    box.hidden = false;
    messageFromMetrics = !!fromMetrics;
  }

  /**
   * Call the server: JSON in and out.  A refused request ({"error": ...}) shows its message
   * in #message and rejects; the server has changed nothing then.
   */
  function api(method, path, body, contentType) {
    var opts = { method: method, headers: {} };
    if (body !== undefined) {
      if (contentType) { opts.body = body; opts.headers["Content-Type"] = contentType; }
      else { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
    }
    setPending(1);
    return fetch(path, opts).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      var parsed = type.indexOf("application/json") >= 0 ? response.json() : response.blob();
      return parsed.then(function (data) {
        if (!response.ok) {
          var msg = (data && data.error) || ("the server answered " + response.status);
          showMessage(msg);
          throw new Error(msg);
        }
        return data;
      });
    }).finally(function () { setPending(-1); });
  }

  function sessionPath(suffix) { return "/api/sessions/" + sessionId + (suffix || ""); }

  // ------------------------------------------------------------------ URL hash

  /** "#k=v&k=v" -> {k: "v"} for the known keys (others, e.g. the original's hideText, are ignored). */
  function parseHash(hash) {
    var out = {};
    hash.replace(/^#/, "").split("&").forEach(function (part) {
      if (!part) return;
      var eq = part.indexOf("=");
      var key = eq < 0 ? part : part.slice(0, eq);
      var value = eq < 0 ? "" : decodeURIComponent(part.slice(eq + 1));
      if (CONFIG_KEYS.indexOf(key) >= 0) out[key] = value;
    });
    return out;
  }

  function hashOf(cfg) {
    return "#" + CONFIG_KEYS.filter(function (k) {
      return k in cfg && cfg[k] !== null && cfg[k] !== undefined;   // initSeed null: derived from seed
    }).map(function (k) {
      var v = cfg[k];
      return k + "=" + encodeURIComponent(String(v)).replace(/%2C/g, ",");
    }).join("&");
  }

  /** Rewrite location.hash from the config (replaceState: no history entry per click). */
  function writeHash() {
    lastHash = hashOf(config);
    if (location.hash !== lastHash) history.replaceState(null, "", lastHash);
  }

  // ------------------------------------------------------------------ controls <-> config

  var SELECTS = {
    "#learningRate": "learningRate", "#activations": "activation",
    "#regularizations": "regularization", "#regularRate": "regularizationRate",
    "#problem": "problem", "#loss-function": "loss", "#optimizer": "optimizer",
    "#dataset": "dataset", "#regDataset": "regDataset"
  };
  var RANGES = { "#percTrainData": "percTrainData", "#noise": "noise", "#batchSize": "batchSize" };
  var NUMBERS = { "#stop-epoch": "stopEpoch", "#stop-loss": "stopLoss" };

  /** Select the option equal to value (numbers compare as numbers: "0.10" is 0.1). */
  function setSelect(sel, value) {
    var el = $(sel), text = String(value);
    var same = function (o) {
      return o.value === text || (typeof value === "number" && Number(o.value) === value);
    };
    var option = Array.prototype.filter.call(el.options, same)[0];
    if (!option) {            // e.g. learningRate 0.05 set through the API: show it anyway
      option = document.createElement("option");
      option.value = text; option.textContent = text;
      el.appendChild(option);
    }
    el.value = option.value;
  }

  /** Show the config in every control. */
  function syncControls() {
    Object.keys(SELECTS).forEach(function (sel) { setSelect(sel, config[SELECTS[sel]]); });
    Object.keys(RANGES).forEach(function (sel) {
      $(sel).value = config[RANGES[sel]];
      $(sel + "-value").textContent = config[RANGES[sel]];
    });
    Object.keys(NUMBERS).forEach(function (sel) { $(sel).value = config[NUMBERS[sel]]; });
    $("#show-test-data").checked = !!config.showTestData;
    $("#discretize").checked = !!config.discretize;
    document.body.classList.toggle("regression", config.problem === "regression");
    $$("canvas.dataset[data-dataset]").forEach(function (c) {
      c.classList.toggle("selected", c.dataset.dataset === config.dataset);
    });
    $$("canvas.dataset[data-reg-dataset]").forEach(function (c) {
      c.classList.toggle("selected", c.dataset.regDataset === config.regDataset);
    });
    FEATURES.forEach(function (f) {
      var node = $("#canvas-" + f);
      if (node) node.classList.toggle("inactive", !config[f]);
    });
    var n = shapeOf(config.networkShape).length;
    $("#num-layers").textContent = n;
    $("#layers-label").textContent = n === 1 ? "hidden layer" : "hidden layers";
  }

  // ------------------------------------------------------------------ applying server answers

  /** A full engine.state(): config, metrics, network, points. */
  function applyState(state) {
    var oldShape = network ? JSON.stringify(network.layers) : null;
    config = state.config;
    metrics = state.metrics;
    network = state.network;
    points = state.points || { train: [], test: [] };
    if (!metrics || metrics.epoch === 0) lossHistory = [];
    syncControls();
    if (oldShape !== JSON.stringify(network.layers)) buildNetwork();
    updateNetwork();
    updateMetrics();
    drawPoints();
    writeHash();
  }

  function fetchGrid() {
    return api("GET", sessionPath("/grid?density=" + DENSITY)).then(function (g) {
      grid = decodeGrid(g);
      drawGrids();
    });
  }

  /** POST something that answers {"state"}, then redraw everything. */
  function mutate(path, body, contentType) {
    return api("POST", sessionPath(path), body, contentType).then(function (data) {
      if (data.state) applyState(data.state);
      if (!messageFromMetrics && !(metrics && metrics.message)) showMessage(null);
      return fetchGrid();
    });
  }

  /** Show the server's current state (after a pause), unless a change is on its way anyway. */
  function refresh() {
    if (pending > 0 || !sessionId) return;
    api("GET", sessionPath("")).then(function (data) {
      if (pending > 0) return;              // a change was sent meanwhile: its answer wins
      pendingFrame = null;
      applyState(data.state);
      return fetchGrid();
    }).catch(function () {});
  }

  /** Change config keys on the server; on refusal, show the old values again. */
  function changeConfig(changes) {
    var resets = Object.keys(changes).some(function (k) { return RESET_KEYS.indexOf(k) >= 0; });
    if (resets && playing) pause();
    return mutate("/config", changes).catch(function () { syncControls(); });
  }

  // ------------------------------------------------------------------ metrics

  function updateMetrics() {
    if (!metrics) return;
    $("#iter-number").textContent = formatEpoch(metrics.epoch);
    $("#loss-train").textContent = formatNumber(metrics.loss_train, 3);
    $("#loss-test").textContent = formatNumber(metrics.loss_test, 3);
    $("#ms-per-epoch").textContent = metrics.ms_per_epoch === null || metrics.ms_per_epoch === undefined
      ? "\u2013" : formatNumber(metrics.ms_per_epoch, 2);
    if (config.problem === "regression") {
      $("#r2").textContent = formatNumber(metrics.r2_test, 3);
      $("#rmse").textContent = formatNumber(metrics.rmse_test, 3);
    } else {
      var acc = metrics.accuracy_test;
      $("#accuracy").textContent = acc === null || acc === undefined ? "NaN" : (100 * acc).toFixed(1) + "%";
      drawConfusion(metrics.confusion);
    }
    if (metrics.message || metrics.diverged) {
      showMessage(metrics.message || "learning rate too high: the loss is NaN/Inf", true);
    } else if (messageFromMetrics) {
      showMessage(null);
    }
    var last = lossHistory.length ? lossHistory[lossHistory.length - 1][0] : -1;
    if (metrics.epoch < last) lossHistory = [];
    if (metrics.epoch > last) lossHistory.push([metrics.epoch, metrics.loss_train, metrics.loss_test]);
    if (lossHistory.length > 1000) {       // keep the chart cheap: every other point
      lossHistory = lossHistory.filter(function (_, i) { return i % 2 === 0 || i === lossHistory.length - 1; });
    }
    drawLossChart();
    updateClassSelect();
  }

  function drawConfusion(matrix) {
    var table = $("#confusion");
    if (!matrix || !matrix.length) { table.innerHTML = ""; return; }
    var k = matrix.length, names = k === 2 ? ["\u22121", "+1"] : null;
    var html = "<tr><th>true \\ pred</th>";
    for (var j = 0; j < k; j++) html += "<th>" + (names ? names[j] : j) + "</th>";
    html += "</tr>";
    for (var i = 0; i < k; i++) {
      html += "<tr><th>" + (names ? names[i] : i) + "</th>";
      for (j = 0; j < k; j++) html += "<td>" + matrix[i][j] + "</td>";
      html += "</tr>";
    }
    table.innerHTML = html;
  }

  function drawLossChart() {
    var canvas = $("#loss-chart"), ctx = canvas.getContext("2d");
    var w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    if (lossHistory.length < 2) return;
    var max = 0;
    lossHistory.forEach(function (p) {
      if (p[1] !== null && isFinite(p[1])) max = Math.max(max, p[1]);
      if (p[2] !== null && isFinite(p[2])) max = Math.max(max, p[2]);
    });
    if (!(max > 0)) max = 1;
    var x0 = lossHistory[0][0], x1 = lossHistory[lossHistory.length - 1][0] || 1;
    function line(index, color) {
      ctx.beginPath(); ctx.strokeStyle = color; ctx.lineWidth = 1.5;
      var started = false;
      lossHistory.forEach(function (p) {
        var v = p[index];
        if (v === null || !isFinite(v)) { started = false; return; }
        var x = (p[0] - x0) / Math.max(x1 - x0, 1) * (w - 2) + 1, y = h - 2 - v / max * (h - 4);
        if (started) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        started = true;
      });
      ctx.stroke();
    }
    line(1, "#999");     // training loss: grey
    line(2, "#000");     // test loss: black (as in the original)
  }

  // ------------------------------------------------------------------ classes (softmax)

  function numClasses() {
    if (grid && grid.classes) return grid.classes.length;
    if (metrics && metrics.confusion && metrics.confusion.length > 2) return metrics.confusion.length;
    return 2;
  }

  function updateClassSelect() {
    var k = config.problem === "classification" ? numClasses() : 2;
    var row = $("#class-select-row"), sel = $("#class-select");
    row.hidden = k <= 2;
    if (k > 2 && sel.options.length !== k + 1) {
      var html = '<option value="all">all classes (most likely)</option>';
      for (var c = 0; c < k; c++) html += '<option value="' + c + '">class ' + c + "</option>";
      sel.innerHTML = html;
    }
  }

  // ------------------------------------------------------------------ heatmaps

  /**
   * Paint a (d x d) grid of values into a canvas of d x d pixels: row 0 is x2 = +6 (top),
   * column 0 is x1 = -6.  discretize: the sign only (the class the network predicts).
   */
  function paintValues(canvas, values, d, discretize) {
    if (canvas.width !== d) { canvas.width = d; canvas.height = d; }
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(d, d), px = img.data;
    for (var i = 0, n = d * d; i < n; i++) {
      var v = values[i];
      if (discretize && v === v) v = v >= 0 ? 1 : -1;
      var c = lutColor(v);
      px[4 * i] = c[0]; px[4 * i + 1] = c[1]; px[4 * i + 2] = c[2]; px[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  /** K class-probability grids -> the most likely class's colour, paler where unsure. */
  function paintClasses(canvas, classes, d, discretize) {
    if (canvas.width !== d) { canvas.width = d; canvas.height = d; }
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(d, d), px = img.data;
    var k = classes.length, rgb = CLASS_COLORS.map(hexToRgb);
    for (var i = 0, n = d * d; i < n; i++) {
      var best = 0, pmax = -1, nan = false;
      for (var c = 0; c < k; c++) {
        var p = classes[c][i];
        if (p !== p) { nan = true; break; }
        if (p > pmax) { pmax = p; best = c; }
      }
      var col = nan ? NAN_COLOR : rgb[best % rgb.length];
      var t = nan || discretize ? 1 : Math.max(0, Math.min(1, (pmax - 1 / k) / (1 - 1 / k)));
      px[4 * i] = 255 + (col[0] - 255) * t; px[4 * i + 1] = 255 + (col[1] - 255) * t;
      px[4 * i + 2] = 255 + (col[2] - 255) * t; px[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  /** The output heatmap's values: the output, or one class's probability mapped to [-1, 1]. */
  function drawOutput(canvas) {
    var d = grid.density;
    if (hoverNode && grid.neurons[hoverNode]) {     // hovering a neuron: show it big, as the original does
      paintValues(canvas, grid.neurons[hoverNode], d, false);
      return;
    }
    if (grid.classes) {
      var which = $("#class-select").value;
      if (which === "all" || which === "") { paintClasses(canvas, grid.classes, d, config.discretize); return; }
      var probs = grid.classes[Number(which)] || grid.classes[0], vals = new Float32Array(probs.length);
      for (var i = 0; i < probs.length; i++) vals[i] = 2 * probs[i] - 1;
      paintValues(canvas, vals, d, config.discretize);
      return;
    }
    paintValues(canvas, grid.output, d, config.discretize && config.problem === "classification");
  }

  function drawGrids() {
    if (!grid) return;
    drawOutput($("#heatmap"));
    $$("#network-nodes .node").forEach(function (node) {
      var id = node.dataset.node, canvas = node.querySelector("canvas");
      if (node.classList.contains("output-node")) {
        var k = node.dataset.classIndex;
        if (grid.classes && k !== undefined) {
          var probs = grid.classes[Number(k)], vals = new Float32Array(probs.length);
          for (var i = 0; i < probs.length; i++) vals[i] = 2 * probs[i] - 1;
          paintValues(canvas, vals, grid.density, false);
        } else {
          paintValues(canvas, grid.output, grid.density, false);
        }
      } else if (grid.neurons[id] && !node.classList.contains("input")) {
        paintValues(canvas, grid.neurons[id], grid.density, false);
      }
    });
  }

  /** The feature thumbnails need no server: x1, x1^2, sin x1... are known functions. */
  function drawFeatureThumbnails() {
    FEATURES.forEach(function (f) {
      var canvas = $("#canvas-" + f + " canvas"), d = 40, vals = new Float32Array(d * d);
      var fn = FEATURE_FUNCTIONS[f], scale = f.indexOf("Squared") >= 0 || f === "xTimesY" ? 1 / 18 : (f.indexOf("sin") === 0 ? 1 : 1 / 6);
      var offset = f.indexOf("Squared") >= 0 ? -1 : 0;
      for (var r = 0; r < d; r++) {
        for (var c = 0; c < d; c++) {
          var x1 = -DOMAIN + (c + 0.5) / d * 2 * DOMAIN, x2 = DOMAIN - (r + 0.5) / d * 2 * DOMAIN;
          vals[r * d + c] = fn(x1, x2) * scale + offset;
        }
      }
      paintValues(canvas, vals, d, false);
    });
  }

  // ------------------------------------------------------------------ points

  function pointColor(label) {
    if (config.problem === "regression") return cssColor(colorOf(label));
    var k = numClasses();
    if (k > 2) return CLASS_COLORS[Math.round(label) % CLASS_COLORS.length];
    return label > 0 ? "#0877bd" : "#f59322";
  }

  function toPixel(x1, x2, size) {
    return [(x1 + DOMAIN) / (2 * DOMAIN) * size, (DOMAIN - x2) / (2 * DOMAIN) * size];
  }

  /** Training points with a white ring, test points (when shown) with a black ring. */
  function drawPoints() {
    var canvas = $("#points-layer"), ctx = canvas.getContext("2d"), size = canvas.width;
    ctx.clearRect(0, 0, size, size);
    function draw(list, stroke) {
      list.forEach(function (p) {
        var xy = toPixel(p[0], p[1], size);
        ctx.beginPath();
        ctx.arc(xy[0], xy[1], 3.5, 0, 2 * Math.PI);
        ctx.fillStyle = pointColor(p[2]);
        ctx.fill();
        ctx.lineWidth = 1; ctx.strokeStyle = stroke; ctx.stroke();
      });
    }
    draw(points.train || [], "#fff");
    if (config.showTestData) draw(points.test || [], "#000");
  }

  // ------------------------------------------------------------------ the network drawing

  var NODE = 36, NODE_GAP = 14, TOP = 44, INPUT_X = 80, OUTPUT_MARGIN = 60;
  var SVG_NS = "http://www.w3.org/2000/svg";

  function weightKey(t) {
    // weights of the connections layers[t] -> layers[t+1]: "l{t+1}" (or "l{t}" if the engine counts from 0)
    var base = network && network.weights && ("l0" in network.weights) ? 0 : 1;
    return { key: "l" + (t + base), layer: t + base };
  }

  /** Where each node sits: inputs at the left (all 7 features), hidden layers, output at the right. */
  function computeLayout() {
    var container = $("#network-container");
    var width = Math.max(container.clientWidth || 560, 480);
    var layers = network.layers, nHidden = layers.length - 2;
    var maxRows = FEATURES.length;
    layers.forEach(function (l) { maxRows = Math.max(maxRows, l.length); });
    var height = TOP + maxRows * (NODE + NODE_GAP) + 10;
    var outX = width - NODE - OUTPUT_MARGIN;    // room for the class labels
    var pos = {}, columns = [];
    FEATURES.forEach(function (f, i) { pos[f] = [INPUT_X, TOP + i * (NODE + NODE_GAP)]; });
    columns.push(INPUT_X);
    for (var h = 1; h <= nHidden; h++) {
      var x = INPUT_X + (outX - INPUT_X) * h / (nHidden + 1);
      columns.push(x);
      layers[h].forEach(function (id, i) { pos[id] = [x, TOP + i * (NODE + NODE_GAP)]; });
    }
    var outs = layers[layers.length - 1];
    var outTop = TOP + Math.max(0, (maxRows - outs.length) / 2 - 0.5) * (NODE + NODE_GAP);
    outs.forEach(function (id, i) { pos[id] = [outX, outTop + i * (NODE + NODE_GAP)]; });
    columns.push(outX);
    return { width: width, height: height, pos: pos, columns: columns };
  }

  function makeNode(id, cls, label) {
    var div = document.createElement("div");
    div.className = "node " + cls;
    div.dataset.node = id;
    div.style.width = NODE + "px"; div.style.height = NODE + "px";
    var canvas = document.createElement("canvas");
    canvas.width = DENSITY; canvas.height = DENSITY;
    div.appendChild(canvas);
    div.addEventListener("mouseenter", function () { hoverNode = id; if (grid) drawOutput($("#heatmap")); });
    div.addEventListener("mouseleave", function () { hoverNode = null; if (grid) drawOutput($("#heatmap")); });
    if (label) {
      var span = document.createElement("span");
      span.className = "node-label"; span.textContent = label;
      div.appendChild(span);
    }
    return div;
  }

  /** (Re)build nodes, buttons and the svg after the network's shape changed. */
  function buildNetwork() {
    layout = computeLayout();
    hoverNode = null;
    var container = $("#network-container"), nodes = $("#network-nodes"), buttons = $("#network-buttons");
    container.style.height = layout.height + "px";
    var svg = $("#network");
    svg.setAttribute("width", layout.width); svg.setAttribute("height", layout.height);

    // feature nodes are made once and kept (their thumbnails never change)
    var fresh = !$("#canvas-x");
    FEATURES.forEach(function (f) {
      var node = $("#canvas-" + f);
      if (!node) {
        node = makeNode(f, "input", FEATURE_LABELS[f]);
        node.id = "canvas-" + f;
        node.title = "Click to turn the feature " + FEATURE_LABELS[f] + " on or off";
        node.addEventListener("click", function () {
          var change = {}; change[f] = !config[f];
          changeConfig(change);
        });
        nodes.appendChild(node);
      }
      node.style.left = layout.pos[f][0] + "px"; node.style.top = layout.pos[f][1] + "px";
      node.classList.toggle("inactive", !config[f]);
    });
    if (fresh) drawFeatureThumbnails();
    $$("#network-nodes .node:not(.input)").forEach(function (n) { n.remove(); });
    var layers = network.layers;
    for (var t = 1; t < layers.length; t++) {
      var isOut = t === layers.length - 1;
      layers[t].forEach(function (id, i) {
        var node = makeNode(id, isOut ? "output-node" : "hidden", isOut && layers[t].length > 1 ? "class " + i : "");
        if (isOut && layers[t].length > 1) node.dataset.classIndex = i;
        node.title = isOut ? "The output (the big heatmap on the right)" : "Neuron " + id + ": its output over the plane";
        node.style.left = layout.pos[id][0] + "px"; node.style.top = layout.pos[id][1] + "px";
        nodes.appendChild(node);
      });
    }
    // +/- neuron buttons above each hidden layer (data-layer is 1-based, like the node ids h1_0)
    buttons.innerHTML = "";
    for (var h = 1; h < layers.length - 1; h++) {
      var x = layout.columns[h];
      var box = document.createElement("div");
      box.className = "neuron-buttons";
      box.style.left = (x + NODE / 2 - 22) + "px"; box.style.top = "0px";
      box.innerHTML = '<button class="plus-neuron" data-layer="' + h + '" title="Add a neuron">+</button>' +
        '<button class="minus-neuron" data-layer="' + h + '" title="Remove a neuron">\u2212</button>';
      buttons.appendChild(box);
      var label = document.createElement("div");
      label.className = "layer-size-label";
      label.style.left = (x - 4) + "px"; label.style.top = "24px";
      var n = layers[h].length;
      label.textContent = n + (n === 1 ? " neuron" : " neurons");
      buttons.appendChild(label);
    }
    $$(".plus-neuron").forEach(function (b) { b.addEventListener("click", function () { changeNeurons(Number(b.dataset.layer), 1); }); });
    $$(".minus-neuron").forEach(function (b) { b.addEventListener("click", function () { changeNeurons(Number(b.dataset.layer), -1); }); });
    buildLinks();
  }

  function linkPath(a, b) {
    // a cubic curve from the right edge of node a to the left edge of node b
    var x0 = a[0] + NODE, y0 = a[1] + NODE / 2, x1 = b[0], y1 = b[1] + NODE / 2, mx = (x0 + x1) / 2;
    return "M" + x0 + "," + y0 + " C" + mx + "," + y0 + " " + mx + "," + y1 + " " + x1 + "," + y1;
  }

  /** One svg path per weight and one square per bias; updateNetwork() colours them. */
  function buildLinks() {
    var svg = $("#network");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var layers = network.layers;
    for (var t = 0; t + 1 < layers.length; t++) {
      var wk = weightKey(t);
      layers[t + 1].forEach(function (to, o) {
        layers[t].forEach(function (from, i) {
          var path = document.createElementNS(SVG_NS, "path");
          path.setAttribute("class", "link");
          path.setAttribute("d", linkPath(layout.pos[from], layout.pos[to]));
          path.dataset.key = wk.key; path.dataset.layer = wk.layer;
          path.dataset.out = o; path.dataset.in = i;
          path.dataset.from = from; path.dataset.to = to;
          svg.appendChild(path);
        });
        var rect = document.createElementNS(SVG_NS, "rect");
        var p = layout.pos[to];
        rect.setAttribute("class", "bias");
        rect.setAttribute("x", p[0] - 5); rect.setAttribute("y", p[1] + NODE - 5);
        rect.setAttribute("width", 7); rect.setAttribute("height", 7);
        rect.dataset.key = wk.key; rect.dataset.layer = wk.layer; rect.dataset.index = o;
        rect.dataset.node = to;
        svg.appendChild(rect);
      });
    }
    $$("#network path.link").forEach(function (el) { attachEditor(el, "weight"); });
    $$("#network rect.bias").forEach(function (el) { attachEditor(el, "bias"); });
  }

  /** network.dead = {"l1": [[out, in], ...], ...}: the links L1 regularization has zeroed. */
  function isDead(key, o, i) {
    var list = network.dead && network.dead[key];
    if (!Array.isArray(list)) return false;
    return list.some(function (pair) { return pair[0] === o && pair[1] === i; });
  }

  /** Colour and width of links and bias squares from the current weights. */
  function updateNetwork() {
    if (!network || !layout) return;
    $$("#network path.link").forEach(function (el) {
      var W = network.weights[el.dataset.key];
      var w = W && W[el.dataset.out] ? W[el.dataset.out][el.dataset.in] : null;
      var nan = w === null || w === undefined || w !== w;
      el.setAttribute("stroke", nan ? "#999999" : cssColor(colorOf(w)));
      el.setAttribute("stroke-width", nan ? 1 : Math.min(1 + Math.abs(w) * 9 / 5, 10));
      el.setAttribute("stroke-opacity", nan ? 0.5 : 0.85);
      el.classList.toggle("dead", !nan && (w === 0 || isDead(el.dataset.key, Number(el.dataset.out), Number(el.dataset.in))));
      el.dataset.value = nan ? "NaN" : String(w);
    });
    $$("#network rect.bias").forEach(function (el) {
      var B = network.biases[el.dataset.key];
      var b = B ? B[el.dataset.index] : null;
      var nan = b === null || b === undefined || b !== b;
      el.setAttribute("fill", nan ? "#999999" : cssColor(colorOf(b)));
      el.dataset.value = nan ? "NaN" : String(b);
    });
  }

  // hover card: "Weight is 0.123"; a click turns it into an input that sets the value
  var editing = null;

  function attachEditor(el, kind) {
    el.addEventListener("mouseenter", function (e) { if (!editing) showCard(el, kind, e, false); });
    el.addEventListener("mousemove", function (e) { if (!editing) showCard(el, kind, e, false); });
    el.addEventListener("mouseleave", function () { if (!editing) $("#hovercard").hidden = true; });
    el.addEventListener("click", function (e) { showCard(el, kind, e, true); });
  }

  function showCard(el, kind, event, edit) {
    var card = $("#hovercard"), rect = $("#network-container").getBoundingClientRect();
    var value = el.dataset.value;
    card.style.left = (event.clientX - rect.left + 12) + "px";
    card.style.top = (event.clientY - rect.top - 10) + "px";
    card.querySelector(".hovercard-text").textContent = (kind === "weight" ? "Weight" : "Bias") + " is " +
      (value === "NaN" ? "NaN" : Number(value).toPrecision(3)) + (edit ? " \u2192" : "");
    var input = card.querySelector(".hovercard-input");
    input.hidden = !edit;
    card.hidden = false;
    if (edit) {
      editing = { el: el, kind: kind };
      input.value = value === "NaN" ? "0" : Number(Number(value).toPrecision(4));
      input.focus(); input.select();
    }
  }

  function finishEdit(commit) {
    var card = $("#hovercard"), input = card.querySelector(".hovercard-input");
    var job = editing;
    editing = null;
    card.hidden = true;
    if (!commit || !job) return;
    var value = Number(input.value);
    if (!isFinite(value)) { showMessage("a " + job.kind + " must be a finite number, got \"" + input.value + "\""); return; }
    var d = job.el.dataset;
    if (job.kind === "weight") {
      mutate("/weight", { layer: Number(d.layer), out: Number(d.out), "in": Number(d["in"]), value: value }).catch(function () {});
    } else {
      mutate("/bias", { layer: Number(d.layer), index: Number(d.index), value: value }).catch(function () {});
    }
  }

  // ------------------------------------------------------------------ network shape buttons

  function changeNeurons(layer, delta) {
    var shape = shapeOf(config.networkShape), n = shape[layer - 1] + delta;
    if (n < 1 || n > MAX_NEURONS) return;
    shape[layer - 1] = n;
    changeConfig({ networkShape: shape.join(",") });
  }

  function changeLayers(delta) {
    var shape = shapeOf(config.networkShape);
    if (delta > 0) { if (shape.length >= MAX_LAYERS) return; shape.push(2); }
    else { if (!shape.length) return; shape.pop(); }
    changeConfig({ networkShape: shape.join(",") });
  }

  // ------------------------------------------------------------------ live training (WebSocket)

  function connect() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/" + sessionId;
    socket = new WebSocket(url);
    socket.onmessage = function (event) {
      var msg = JSON.parse(event.data);
      if (msg.type === "frame") {
        // after a pause, frames still in flight are dropped (a config change may already
        // have replaced the network); the "paused" answer brings the final state instead
        if (!playing) return;
        pendingFrame = msg;
        scheduleDraw();
      } else if (msg.type === "stopped") {
        setPlaying(false);
        showMessage(msg.reason || "training stopped", msg.code === "diverged");
        refresh();
      } else if (msg.type === "paused") {
        setPlaying(false);
        refresh();
      } else if (msg.type === "error") {
        setPlaying(false);
        showMessage(msg.error);
      }
    };
    socket.onclose = function () {
      if (playing) showMessage("the connection to the server was lost; reload the page");
      setPlaying(false);
      socket = null;
    };
    return new Promise(function (resolve) { socket.onopen = resolve; });
  }

  function send(msg) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(msg)); return Promise.resolve(); }
    return connect().then(function () { socket.send(JSON.stringify(msg)); });
  }

  /** body[data-playing]: "true", "pausing" (asked, not yet confirmed by the server), "false". */
  function setPlaying(on, confirmed) {
    playing = on;
    $("#play-pause-button").classList.toggle("playing", on);
    document.body.dataset.playing = on ? "true" : (confirmed === false ? "pausing" : "false");
  }

  function play() {
    showMessage(null);                 // an old "stopped at epoch N" or error is over
    setPlaying(true);
    send({ type: "play", density: DENSITY });
  }

  function pause() {
    setPlaying(false, false);          // the server answers "paused" once its frame is done
    send({ type: "pause" });
  }

  /** Draw the newest frame on the next animation frame, at most MAX_FPS times a second. */
  function scheduleDraw() {
    if (drawScheduled) return;
    drawScheduled = true;
    requestAnimationFrame(function tick(now) {
      if (now - lastDraw < FRAME_MS - 1) { requestAnimationFrame(tick); return; }
      drawScheduled = false;
      lastDraw = now;
      var frame = pendingFrame;
      pendingFrame = null;
      if (!frame) return;
      framesDrawn++;
      metrics = frame.metrics;
      var shapeChanged = JSON.stringify(frame.network.layers) !== JSON.stringify(network.layers);
      network = frame.network;
      if (shapeChanged) buildNetwork();
      updateNetwork();
      updateMetrics();
      grid = decodeGrid(frame.grid);
      drawGrids();
    });
  }

  function step() {
    if (playing) pause();
    return api("POST", sessionPath("/step"), { epochs: 1 }).then(function (data) {
      if (!messageFromMetrics) showMessage(null);
      metrics = data.metrics; network = data.network;
      updateNetwork(); updateMetrics();
      return fetchGrid();
    }).catch(function () {});
  }

  // ------------------------------------------------------------------ data thumbnails

  /** Little pictures of the datasets (a drawing, not the data itself). */
  function drawDatasetThumbnails() {
    var rng = (function () { var s = 42; return function () { s = (s * 16807) % 2147483647; return s / 2147483647; }; })();
    function pts(kind) {
      var out = [], i, r, t;
      for (i = 0; i < 120; i++) {
        var a = rng() * 10 - 5, b = rng() * 10 - 5;
        if (kind === "circle") { r = Math.hypot(a, b); if (r > 2.8 && r < 3.6) continue; out.push([a, b, r < 3 ? 1 : -1]); }
        else if (kind === "xor") out.push([a, b, a * b >= 0 ? 1 : -1]);
        else if (kind === "gauss") { var s = rng() < 0.5 ? 1 : -1; out.push([2 * s + (rng() - 0.5) * 2.5, 2 * s + (rng() - 0.5) * 2.5, s]); }
        else if (kind === "spiral" || kind === "spiral3") {
          var arms = kind === "spiral" ? 2 : 3, arm = i % arms; r = (i / 120) * 5; t = 1.75 * (i / 120) * 2 * Math.PI + arm * 2 * Math.PI / arms;
          out.push([r * Math.sin(t), r * Math.cos(t), arms === 2 ? (arm ? -1 : 1) : arm]);
        }
        else if (kind === "reg-plane") out.push([a, b, (a + b) / 10]);
        else if (kind === "reg-gauss") out.push([a, b, Math.exp(-((a - 2) * (a - 2) + (b - 2) * (b - 2)) / 4) - Math.exp(-((a + 2) * (a + 2) + (b + 2) * (b + 2)) / 4)]);
      }
      return out;
    }
    $$("canvas.dataset").forEach(function (canvas) {
      var kind = canvas.dataset.dataset || canvas.dataset.regDataset, ctx = canvas.getContext("2d"), s = canvas.width;
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, s, s);
      pts(kind).forEach(function (p) {
        var xy = toPixel(p[0], p[1], s);
        ctx.fillStyle = kind === "spiral3" ? CLASS_COLORS[p[2]] : cssColor(colorOf(kind.indexOf("reg") === 0 ? p[2] * 2 : p[2]));
        ctx.beginPath(); ctx.arc(xy[0], xy[1], 2, 0, 2 * Math.PI); ctx.fill();
      });
    });
  }

  // ------------------------------------------------------------------ wiring the controls

  function wire() {
    $("#play-pause-button").addEventListener("click", function () { if (playing) pause(); else play(); });
    $("#next-step-button").addEventListener("click", step);
    $("#reset-button").addEventListener("click", function () {
      if (playing) pause();
      lossHistory = [];
      mutate("/reset", { same_init: true }).catch(function () {});
    });
    $("#regenerate-button").addEventListener("click", function () {
      if (playing) pause();
      mutate("/regenerate", {}).catch(function () {});
    });
    Object.keys(SELECTS).forEach(function (sel) {
      $(sel).addEventListener("change", function () {
        var key = SELECTS[sel], v = $(sel).value, change = {};
        change[key] = NUMBER_KEYS.indexOf(key) >= 0 ? Number(v) : v;
        changeConfig(change);
      });
    });
    Object.keys(RANGES).forEach(function (sel) {
      var el = $(sel);
      el.addEventListener("input", function () { $(sel + "-value").textContent = el.value; });
      el.addEventListener("change", function () { var c = {}; c[RANGES[sel]] = Number(el.value); changeConfig(c); });
    });
    Object.keys(NUMBERS).forEach(function (sel) {
      $(sel).addEventListener("change", function () {
        var v = $(sel).value.trim(), c = {};
        c[NUMBERS[sel]] = v === "" ? 0 : Number(v);
        changeConfig(c);
      });
    });
    $$("canvas.dataset").forEach(function (c) {
      c.addEventListener("click", function () {
        if (c.dataset.dataset) changeConfig({ dataset: c.dataset.dataset });
        else changeConfig({ regDataset: c.dataset.regDataset });
      });
    });
    [["#show-test-data", "showTestData"], ["#discretize", "discretize"]].forEach(function (pair) {
      $(pair[0]).addEventListener("change", function () {
        var c = {}; c[pair[1]] = $(pair[0]).checked;
        config[pair[1]] = c[pair[1]];       // draw at once; the server keeps it for the hash
        drawPoints(); drawGrids(); writeHash();
        changeConfig(c);
      });
    });
    $("#class-select").addEventListener("change", drawGrids);
    $("#add-layers").addEventListener("click", function () { changeLayers(1); });
    $("#remove-layers").addEventListener("click", function () { changeLayers(-1); });

    var input = $("#hovercard .hovercard-input");
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter") finishEdit(true);
      else if (e.key === "Escape") finishEdit(false);
    });
    input.addEventListener("blur", function () { if (editing) finishEdit(false); });

    $("#csv-upload").addEventListener("change", function () {
      var file = this.files && this.files[0], el = this;
      if (!file) return;
      if (playing) pause();
      file.text().then(function (text) {
        return mutate("/upload", text, "text/csv");
      }).catch(function () {}).finally(function () { el.value = ""; });
    });

    $("#heatmap").addEventListener("click", function (e) {
      var rect = this.getBoundingClientRect();
      var x1 = (e.clientX - rect.left) / rect.width * 2 * DOMAIN - DOMAIN;
      var x2 = DOMAIN - (e.clientY - rect.top) / rect.height * 2 * DOMAIN;
      var label;
      if (config.problem === "classification" && numClasses() > 2) {
        var k = numClasses(), chosen = $("#class-select").value, c = chosen === "all" || chosen === "" ? 0 : Number(chosen);
        label = e.shiftKey ? (c + 1) % k : c;
      } else {
        label = e.shiftKey ? -1 : 1;
      }
      mutate("/points", { x1: Math.round(x1 * 1000) / 1000, x2: Math.round(x2 * 1000) / 1000, label: label, part: "train" }).catch(function () {});
    });

    $("#export-button").addEventListener("click", function () {
      api("GET", sessionPath("/export")).then(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = "playground_model.zip";
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      }).catch(function () {});
    });

    // a pasted link (hash typed by hand) changes the config too
    window.addEventListener("hashchange", function () {
      if (location.hash === lastHash || !sessionId) return;
      var wanted = parseHash(location.hash), changes = {};
      Object.keys(wanted).forEach(function (k) {
        if (String(config[k] === null || config[k] === undefined ? "" : config[k]) !== wanted[k]) changes[k] = wanted[k];
      });
      if (Object.keys(changes).length) changeConfig(changes); else writeHash();
    });
    window.addEventListener("resize", function () { if (network) { buildNetwork(); updateNetwork(); drawGrids(); } });
    window.addEventListener("pagehide", function () {
      if (sessionId) fetch(sessionPath(""), { method: "DELETE", keepalive: true }).catch(function () {});
    });
  }

  // ------------------------------------------------------------------ start

  function start() {
    document.body.dataset.pending = "0";
    setPlaying(false);
    wire();
    drawDatasetThumbnails();
    var wanted = parseHash(location.hash);
    // a fresh seed for a page opened without one, "0.12345" style like the original
    if (!wanted.seed) wanted.seed = Math.random().toFixed(5);
    api("POST", "/api/sessions", { config: wanted }).catch(function (err) {
      // a bad value in the link: say so, and start from the defaults
      var text = err.message;
      return api("POST", "/api/sessions", { config: { seed: wanted.seed } }).then(function (data) {
        showMessage("the link's configuration was refused (" + text + "); starting from the defaults");
        return data;
      });
    }).then(function (data) {
      sessionId = data.id;
      document.body.dataset.session = sessionId;
      applyState(data.state);
      return Promise.all([fetchGrid(), connect()]);
    }).then(function () {
      document.body.classList.add("ready");
    }).catch(function (err) {
      showMessage("could not start a session: " + err.message);
    });
  }

  // exposed for debugging in the browser console and for the browser tests
  window.playground = {
    get config() { return config; }, get metrics() { return metrics; },
    get network() { return network; }, get session() { return sessionId; },
    get framesDrawn() { return framesDrawn; },
    colorOf: colorOf, parseHash: parseHash, hashOf: hashOf
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
