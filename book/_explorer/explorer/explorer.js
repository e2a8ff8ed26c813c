// The "Explore the models" page: the trained decoders run in plain JavaScript (matrix-vector
// products, ReLU, sigmoid), each loaded by a <script> tag the first time it is needed, which
// works from file:// where fetch does not. The page's data (codes, labels, test digits) are
// window.vaecoreExplorerData, computed in Python when the page was executed.
(function () {
  "use strict";
  var data = window.vaecoreExplorerData;
  var here = document.currentScript.src;
  var base = here.slice(0, here.lastIndexOf("/") + 1) + "models/";
  var store = (window.vaecoreWeights = window.vaecoreWeights || {});
  var nets = {};
  var loading = {};
  var SIDE = 28;
  var PIXELS = SIDE * SIDE;
  // matplotlib's tab10, as in the book's figures
  var COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  var status = document.getElementById("vx-status");

  function names() {
    return [].concat(data.n2.names, data.n64.names, data.n1.names);
  }

  function bytes(b64) {
    var text = atob(b64), out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }

  function half(h) {  // IEEE 754 binary16 -> number
    var sign = h & 0x8000 ? -1 : 1, exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff;
    if (exponent === 0) return sign * fraction * Math.pow(2, -24);
    if (exponent === 31) return fraction ? NaN : sign * Infinity;
    return sign * (1 + fraction / 1024) * Math.pow(2, exponent - 15);
  }

  // the plane's codes: base64 int16 hundredths, (x, y) by (x, y)
  function codes(b64) {
    var values = new Int16Array(bytes(b64).buffer), out = [];
    for (var i = 0; i < values.length; i += 2) out.push([values[i] / 100, values[i + 1] / 100]);
    return out;
  }

  // spec.data: per layer the weight (rows = outputs) row by row, then the bias
  function unpack(spec) {
    var raw = bytes(spec.data), values;
    if (spec.dtype === "float32") {
      values = new Float32Array(raw.buffer);
    } else {
      var halves = new Uint16Array(raw.buffer);
      values = new Float32Array(halves.length);
      for (var i = 0; i < halves.length; i++) values[i] = half(halves[i]);
    }
    var layers = [], start = 0;
    for (var l = 1; l < spec.sizes.length; l++) {
      var cols = spec.sizes[l - 1], rows = spec.sizes[l];
      layers.push({rows: rows, cols: cols,
                   w: values.subarray(start, start + rows * cols),
                   b: values.subarray(start + rows * cols, start + rows * cols + rows)});
      start += rows * cols + rows;
    }
    return {name: spec.name, n: spec.n, layers: layers};
  }

  function forward(net, z) {
    if (z.length !== net.n) throw new Error(net.name + " decodes z of length " + net.n + ", got " + z.length);
    var h = Float64Array.from(z), last = net.layers.length - 1;
    for (var l = 0; l <= last; l++) {
      var layer = net.layers[l], w = layer.w, b = layer.b, cols = layer.cols;
      var out = new Float64Array(layer.rows);
      for (var r = 0; r < layer.rows; r++) {
        var sum = b[r], row = r * cols;
        for (var c = 0; c < cols; c++) sum += w[row + c] * h[c];
        out[r] = l < last ? (sum > 0 ? sum : 0) : 1 / (1 + Math.exp(-sum));
      }
      h = out;
    }
    return h;  // (784,) pixel means
  }

  function load(name) {
    if (nets[name]) return Promise.resolve(nets[name]);
    if (names().indexOf(name) < 0) return Promise.reject(new Error("no model " + name + "; models: " + names().join(", ")));
    if (!loading[name]) {
      loading[name] = new Promise(function (resolve, reject) {
        function done() {
          if (!store[name]) return reject(new Error(base + name + ".js did not define " + name));
          nets[name] = unpack(store[name]);
          delete store[name];  // the base64 text is no longer needed
          resolve(nets[name]);
        }
        if (store[name]) return done();
        var tag = document.createElement("script");
        tag.src = base + name + ".js";
        tag.onload = done;
        tag.onerror = function () { reject(new Error("cannot load " + tag.src)); };
        status.textContent = "loading " + name + "…";
        document.head.appendChild(tag);
      }).then(function (net) { status.textContent = ""; return net; });
    }
    return loading[name];
  }

  // The API the tests use: the models' names, and their pixel means for a z (a promise until loaded).
  window.vaecoreExplorer = {
    models: names,
    decode: function (name, z) {
      if (nets[name]) return Array.from(forward(nets[name], z));
      return load(name).then(function (net) { return Array.from(forward(net, z)); });
    }
  };

  // ink dark on white, as the book's figures (gray_r)
  function paint(ctx, pixels, x, y) {
    var image = ctx.createImageData(SIDE, SIDE);
    for (var i = 0; i < PIXELS; i++) {
      var v = Math.round(255 * (1 - pixels[i]));
      image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = v;
      image.data[4 * i + 3] = 255;
    }
    ctx.putImageData(image, x, y);
  }

  function show(canvas, net, z) {
    paint(canvas.getContext("2d"), forward(net, z), 0, 0);
    canvas.setAttribute("data-z", JSON.stringify(Array.from(z)));
    canvas.setAttribute("data-model", net.name);
  }

  function failed(error) { status.textContent = error.message; }

  function fmt(v) { return (v < 0 ? "−" : "") + Math.abs(v).toFixed(2); }

  function whenVisible(element, start) {
    if (!("IntersectionObserver" in window)) return start();
    var observer = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) { observer.disconnect(); start(); }
    }, {rootMargin: "200px"});
    observer.observe(element);
  }

  // n = 2: the plane of codes, a z under the pointer, its digit
  function planePart() {
    var plane = document.getElementById("vx-n2-plane");
    var digit = document.getElementById("vx-n2-digit");
    var readout = document.getElementById("vx-n2-z");
    var legend = document.getElementById("vx-n2-legend");
    var radios = document.querySelectorAll('input[name="vx-n2-beta"]');
    var model = Number(document.querySelector('input[name="vx-n2-beta"]:checked').value);
    var z = [0, 0], dragging = false, view;
    var planes = data.n2.codes.map(codes);
    legend.innerHTML = COLOURS.map(function (colour, label) {
      return '<span><i style="background:' + colour + '"></i>' + label + "</span>";
    }).join("");

    function extent(codes) {  // a square around all but the outermost 1% of the codes on each side
      var middle = [0, 1].map(function (d) {
        var values = codes.map(function (c) { return c[d]; }).sort(function (a, b) { return a - b; });
        var lo = values[Math.floor(0.01 * values.length)], hi = values[Math.ceil(0.99 * values.length) - 1];
        return [lo, hi];
      });
      var half = 0.6 * Math.max(middle[0][1] - middle[0][0], middle[1][1] - middle[1][0]);
      return {cx: (middle[0][0] + middle[0][1]) / 2, cy: (middle[1][0] + middle[1][1]) / 2, half: half};
    }

    function size() {
      var css = plane.clientWidth, ratio = window.devicePixelRatio || 1;
      if (plane.width !== Math.round(css * ratio)) plane.width = plane.height = Math.round(css * ratio);
      return plane.width;
    }

    function toPixel(c, px) {
      return [(c[0] - view.cx + view.half) / (2 * view.half) * px, (view.cy + view.half - c[1]) / (2 * view.half) * px];
    }

    function drawPlane() {
      var px = size(), ctx = plane.getContext("2d"), dot = Math.max(2, px / 160);
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, px, px);
      var points = planes[model], labels = data.n2.labels;
      for (var i = 0; i < points.length; i++) {
        var p = toPixel(points[i], px);
        ctx.fillStyle = COLOURS[labels[i]];
        ctx.fillRect(p[0] - dot / 2, p[1] - dot / 2, dot, dot);
      }
      var m = toPixel(z, px), r = px / 40;
      ctx.strokeStyle = "#000";
      ctx.lineWidth = Math.max(1.5, px / 200);
      ctx.beginPath();
      ctx.arc(m[0], m[1], r, 0, 2 * Math.PI);
      ctx.moveTo(m[0] - 2 * r, m[1]); ctx.lineTo(m[0] - r, m[1]);
      ctx.moveTo(m[0] + r, m[1]); ctx.lineTo(m[0] + 2 * r, m[1]);
      ctx.moveTo(m[0], m[1] - 2 * r); ctx.lineTo(m[0], m[1] - r);
      ctx.moveTo(m[0], m[1] + r); ctx.lineTo(m[0], m[1] + 2 * r);
      ctx.stroke();
    }

    function update() {
      var name = data.n2.names[model];
      drawPlane();
      readout.textContent = "z = (" + fmt(z[0]) + ", " + fmt(z[1]) + ")";
      if (nets[name]) show(digit, nets[name], z);
      else load(name).then(update, failed);
    }

    function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }

    function setZ(next) {
      z = [clamp(next[0], view.cx - view.half, view.cx + view.half), clamp(next[1], view.cy - view.half, view.cy + view.half)];
      update();
    }

    function fromEvent(event) {
      var box = plane.getBoundingClientRect();
      var u = (event.clientX - box.left) / box.width, v = (event.clientY - box.top) / box.height;
      setZ([view.cx - view.half + 2 * view.half * u, view.cy + view.half - 2 * view.half * v]);
    }

    function choose(index) {
      model = index;
      view = extent(planes[model]);
      setZ(z);
    }

    plane.addEventListener("pointerdown", function (event) {
      dragging = true;
      plane.setPointerCapture(event.pointerId);
      fromEvent(event);
    });
    plane.addEventListener("pointermove", function (event) {
      if (dragging || event.pointerType === "mouse") fromEvent(event);
    });
    plane.addEventListener("pointerup", function () { dragging = false; });
    plane.addEventListener("pointercancel", function () { dragging = false; });
    plane.addEventListener("keydown", function (event) {
      var step = view.half / 25 * (event.shiftKey ? 5 : 1);
      var move = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step]}[event.key];
      if (!move) return;
      event.preventDefault();
      setZ([z[0] + move[0], z[1] + move[1]]);
    });
    Array.prototype.forEach.call(radios, function (radio) {
      radio.addEventListener("change", function () { choose(Number(radio.value)); });
    });
    window.addEventListener("resize", drawPlane);
    choose(model);
  }

  // n = 64: sixteen fixed prior draws per beta, and a path between two test digits
  function samplesPart() {
    var slider = document.getElementById("vx-n64-beta");
    var betaOut = document.getElementById("vx-n64-beta-value");
    var samples = document.getElementById("vx-n64-samples");
    var t = document.getElementById("vx-n64-t");
    var digit = document.getElementById("vx-n64-digit");
    var readout = document.getElementById("vx-n64-z");
    var picks = document.querySelectorAll("#vx-n64-strip .vx-pick");
    var ends = [0, 1], next = 0;
    Array.prototype.forEach.call(picks, function (button, i) {
      var pixels = Array.from(bytes(data.n64.strip[i]), function (v) { return v / 255; });
      paint(button.querySelector("canvas").getContext("2d"), pixels, 0, 0);
      button.addEventListener("click", function () {
        if (ends.indexOf(i) >= 0) return;
        ends[next] = i;
        next = 1 - next;
        update();
      });
    });

    function update() {
      var index = Number(slider.value), name = data.n64.names[index];
      betaOut.textContent = "= " + data.n64.betas[index];
      Array.prototype.forEach.call(picks, function (button, i) {
        var role = ends.indexOf(i);
        button.setAttribute("aria-pressed", role >= 0 ? "true" : "false");
        button.querySelector(".vx-role").textContent = role === 0 ? "from" : role === 1 ? "to" : "";
      });
      if (!nets[name]) { load(name).then(update, failed); return; }
      var net = nets[name], ctx = samples.getContext("2d");
      ctx.fillStyle = "#ccc";
      ctx.fillRect(0, 0, samples.width, samples.height);
      data.n64.draws.forEach(function (z, k) {
        paint(ctx, forward(net, z), (k % 4) * (SIDE + 1), Math.floor(k / 4) * (SIDE + 1));
      });
      samples.setAttribute("data-model", name);
      var a = data.n64.codes[index][ends[0]], b = data.n64.codes[index][ends[1]], s = Number(t.value) / 100;
      var z = a.map(function (v, d) { return (1 - s) * v + s * b[d]; });
      show(digit, net, z);
      readout.textContent = "t = " + s.toFixed(2) + " from the first digit to the second";
    }

    slider.addEventListener("input", update);
    t.addEventListener("input", update);
    update();
  }

  // n = 1: a slider over z
  function linePart() {
    var input = document.getElementById("vx-n1-z-input");
    var digit = document.getElementById("vx-n1-digit");
    var readout = document.getElementById("vx-n1-z");
    var name = data.n1.names[0];
    function update() {
      var z = [Number(input.value)];
      readout.textContent = "z = " + fmt(z[0]);
      if (nets[name]) show(digit, nets[name], z);
      else load(name).then(update, failed);
    }
    input.addEventListener("input", update);
    update();
  }

  planePart();
  whenVisible(document.getElementById("vx-n64"), samplesPart);
  whenVisible(document.getElementById("vx-n1"), linePart);
})();
