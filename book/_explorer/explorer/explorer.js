// The "Explore the models" page: the trained decoders and encoders run in plain JavaScript
// (matrix-vector products, ReLU, sigmoid), each loaded by a <script> tag the first time it is
// needed, which works from file:// where fetch does not. The page's data (codes, labels, test
// digits, the weights' SHA-256) are the JSON in #vx-data, computed in Python when the page was
// executed (vaecore.explorer_page); the markup is page.html beside this file.
(function () {
  "use strict";
  document.documentElement.classList.add("vx-js");  // explorer.css: the live page, not the static panel
  var data = JSON.parse(document.getElementById("vx-data").textContent);
  var here = document.currentScript.src;
  var base = here.slice(0, here.lastIndexOf("/") + 1) + "models/";
  var store = (window.vaecoreWeights = window.vaecoreWeights || {});
  var nets = {};
  var loading = {};
  var ENCODER = ".encoder";
  var SIDE = 28;
  var PIXELS = SIDE * SIDE;
  // matplotlib's tab10, as in the book's figures
  var COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  var ELLIPSE = ["rgb(204, 0, 112)", "rgb(230, 128, 184)"];  // 1σ, 2σ
  var status = document.getElementById("vx-status");

  function names() {
    return [].concat(data.plane.names, data.space.names, data.line.names);
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

  function image(b64) {  // a test digit: 784 bytes -> pixels in [0, 1]
    return Array.from(bytes(b64), function (v) { return v / 255; });
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
    var buffers = spec.sizes.map(function (size) { return new Float64Array(size); });
    return {name: spec.name, n: spec.n, layers: layers, buffers: buffers,
            index: new Int32Array(Math.max.apply(null, spec.sizes))};
  }

  // ReLU between the layers; after the last, sigmoid (a decoder) or nothing (an encoder's mu, logvar).
  // The layers' outputs are buffers of the network, reused by every call (no garbage to collect
  // mid-drag), and a layer sums only over its input's non-zero entries (after ReLU, or a digit's
  // ink): skipping exact zeros leaves every sum as it was.
  function run(net, input, sigmoid) {
    var h = net.buffers[0], index = net.index, end = net.layers.length - 1;
    for (var i = 0; i < h.length; i++) h[i] = input[i];
    for (var l = 0; l <= end; l++) {
      var layer = net.layers[l], w = layer.w, b = layer.b, cols = layer.cols, out = net.buffers[l + 1], used = 0;
      for (var c = 0; c < cols; c++) if (h[c] !== 0) index[used++] = c;
      for (var r = 0; r < layer.rows; r++) {
        var sum = b[r], row = r * cols;
        for (var k = 0; k < used; k++) { c = index[k]; sum += w[row + c] * h[c]; }
        out[r] = l < end ? (sum > 0 ? sum : 0) : sigmoid ? 1 / (1 + Math.exp(-sum)) : sum;
      }
      h = out;
    }
    return h;  // the last buffer: read it before the next call
  }

  function forward(net, z) {  // (n,) code -> (784,) pixel means
    if (z.length !== net.n) throw new Error(net.name + " decodes z of length " + net.n + ", got " + z.length);
    return run(net, z, true);
  }

  function encodeWith(net, pixels) {  // (784,) pixels in [0, 1] -> the posterior's {mu, logvar}
    if (pixels.length !== PIXELS) throw new Error(net.name + " encodes " + PIXELS + " pixels, got " + pixels.length);
    var out = run(net, pixels, false);
    return {mu: Array.from(out.subarray(0, net.n)), logvar: Array.from(out.subarray(net.n))};
  }

  // A network by key (a model's name, or name + ".encoder"). A failed load is forgotten, so the
  // next request tries again.
  function load(key) {
    if (nets[key]) return Promise.resolve(nets[key]);
    var model = key.replace(ENCODER, "");
    if (names().indexOf(model) < 0 || (key !== model && data.plane.names.indexOf(model) < 0)) {
      return Promise.reject(new Error("no network " + key + "; models: " + names().join(", ")));
    }
    if (!loading[key]) {
      var file = base + key + ".js";
      status.textContent = "loading " + key + "…";
      loading[key] = new Promise(function (resolve, reject) {
        var tag = document.createElement("script");
        tag.src = file;
        tag.onload = function () {
          tag.remove();
          if (!store[key]) return reject(new Error(key + ".js did not define the network " + key + ": export it again"));
          try { nets[key] = unpack(store[key]); } catch (error) { return reject(error); } finally { delete store[key]; }
          resolve(nets[key]);
        };
        tag.onerror = function () {
          tag.remove();
          reject(new Error("could not load " + key + ".js from explorer/models/: this part cannot show β's model"));
        };
        document.head.appendChild(tag);
      }).then(function (net) {
        delete loading[key];
        status.textContent = "";
        return net;
      }, function (error) {
        delete loading[key];
        status.textContent = "";
        throw error;
      });
    }
    return loading[key];
  }

  // The API the tests use: the models' names, their pixel means for a z and posteriors for
  // pixels (each a promise until the network is loaded), and the page's prior draws for a seed.
  window.vaecoreExplorer = {
    models: names,
    decode: function (name, z) {
      if (nets[name]) return Array.from(forward(nets[name], z));
      return load(name).then(function (net) { return Array.from(forward(net, z)); });
    },
    encode: function (name, pixels) {
      var key = name + ENCODER;
      if (nets[key]) return encodeWith(nets[key], pixels);
      return load(key).then(function (net) { return encodeWith(net, pixels); });
    },
    draws: function (seed, count, n) { return draws(seed, count, n); }
  };

  // mulberry32 uniforms, two per normal by Box-Muller: vaecore.explorer_page.draws gives the same codes
  function draws(seed, count, n) {
    var state = seed >>> 0;
    function uniform() {
      state = (state + 0x6D2B79F5) >>> 0;
      var t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }
    var out = [];
    for (var k = 0; k < count; k++) {
      var z = [];
      for (var d = 0; d < n; d++) {
        var u = uniform(), v = uniform();
        z.push(Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v));
      }
      out.push(z);
    }
    return out;
  }

  // ink dark on white, as the book's figures (gray_r)
  function paint(ctx, pixels, x, y) {
    var picture = ctx.createImageData(SIDE, SIDE);
    for (var i = 0; i < PIXELS; i++) {
      var v = Math.round(255 * (1 - pixels[i]));
      picture.data[4 * i] = picture.data[4 * i + 1] = picture.data[4 * i + 2] = v;
      picture.data[4 * i + 3] = 255;
    }
    ctx.putImageData(picture, x, y);
  }

  function show(canvas, net, z) {
    paint(canvas.getContext("2d"), forward(net, z), 0, 0);
    canvas.setAttribute("data-z", JSON.stringify(Array.from(z)));
    canvas.setAttribute("data-model", net.name);
  }

  // a digit that cannot be shown: emptied, and no model or z claimed for it
  function blank(canvas) {
    var ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    canvas.removeAttribute("data-z");
    canvas.removeAttribute("data-model");
  }

  function fmt(v) { return (v < 0 ? "−" : "") + Math.abs(v).toFixed(2); }

  function beta(value) { return "β = " + value; }

  // Draws with the model ``name`` when it is loaded and still wanted (``wanted()`` is the name
  // the part shows now); until then, and if it fails, ``clear`` blanks the part.
  function withModel(key, wanted, draw, clear, error) {
    if (nets[key]) { error.textContent = ""; return draw(nets[key]); }
    clear();
    load(key).then(function (net) {
      if (wanted() === key) { error.textContent = ""; draw(net); }
    }, function (problem) {
      if (wanted() === key) { clear(); error.textContent = problem.message; }
    });
  }

  function whenVisible(element, start) {
    if (!("IntersectionObserver" in window)) return start();
    var observer = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) { observer.disconnect(); start(); }
    }, {rootMargin: "200px"});
    observer.observe(element);
  }

  function onFrame(work) {  // runs ``work`` once per animation frame, however many events ask
    var pending = false;
    return function () {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; work(); });
    };
  }

  function digitButton(b64, text) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "vx-pick";
    button.setAttribute("aria-label", text);
    button.innerHTML = '<canvas width="28" height="28"></canvas><span class="vx-role"></span>';
    paint(button.querySelector("canvas").getContext("2d"), image(b64), 0, 0);
    return button;
  }

  function niceStep(span) {  // a tick step of 1, 2 or 5 times a power of ten, 4 to 10 ticks
    var power = Math.pow(10, Math.floor(Math.log10(span / 4)));
    return [1, 2, 5, 10].map(function (m) { return m * power; }).filter(function (s) { return span / s <= 10; })[0];
  }

  // n = 2: the plane of codes, a z under the pointer, its digit, and the posterior of a digit
  function planePart() {
    var scatter = document.getElementById("vx-n2-scatter");
    var plane = document.getElementById("vx-n2-plane");
    var digit = document.getElementById("vx-n2-digit");
    var readout = document.getElementById("vx-n2-z");
    var error = document.getElementById("vx-n2-error");
    var encodeError = document.getElementById("vx-n2-encode-error");
    var same = document.getElementById("vx-n2-same");
    var group = document.querySelector("#vx-n2 .vx-betas");
    var input = document.getElementById("vx-n2-input");
    var recon = document.getElementById("vx-n2-recon");
    var posteriorOut = document.getElementById("vx-n2-posterior");
    var rateOut = document.getElementById("vx-n2-rate");
    var planes = data.plane.codes.map(codes), cache = {};
    var model = Math.max(0, data.plane.betas.indexOf(1)), z = [0, 0], dragging = false, view, area;
    var pointer = null, box = null, pixels = null, posterior = null;

    data.plane.betas.forEach(function (b, i) {
      var label = document.createElement("label");
      label.innerHTML = '<input type="radio" name="vx-n2-beta" value="' + i + '"' + (i === model ? " checked" : "") +
                        "> " + b;
      label.querySelector("input").setAttribute("aria-label", beta(b));
      group.appendChild(label);
    });
    document.getElementById("vx-n2-legend").innerHTML = COLOURS.map(function (colour, label) {
      return '<span><i style="background:' + colour + '"></i>' + label + "</span>";
    }).join("");

    function middle(points) {  // the box around all but the outermost 1% of the codes on each side
      return [0, 1].map(function (d) {
        var values = points.map(function (c) { return c[d]; }).sort(function (a, b) { return a - b; });
        return [values[Math.floor(0.01 * values.length)], values[Math.ceil(0.99 * values.length) - 1]];
      });
    }

    function extent() {  // a square around the middle codes of this β, or of every β
      var boxes = same.checked ? planes.map(middle) : [middle(planes[model])];
      var lo = [0, 1].map(function (d) { return Math.min.apply(null, boxes.map(function (b) { return b[d][0]; })); });
      var hi = [0, 1].map(function (d) { return Math.max.apply(null, boxes.map(function (b) { return b[d][1]; })); });
      var halfWidth = 0.6 * Math.max(hi[0] - lo[0], hi[1] - lo[1], 4);  // never narrower than the prior's 2σ
      var cx = (lo[0] + hi[0]) / 2, cy = (lo[1] + hi[1]) / 2;
      return {x0: cx - halfWidth, x1: cx + halfWidth, y0: cy - halfWidth, y1: cy + halfWidth};
    }

    function size() {  // device pixels of both canvases, and the plot's square inside the axes' margins
      var ratio = window.devicePixelRatio || 1, px = Math.round(plane.clientWidth * ratio);
      if (plane.width !== px) plane.width = plane.height = scatter.width = scatter.height = px;
      var font = Math.max(Math.round(px / 30), Math.round(10 * ratio));  // tick labels of 10 CSS px at least
      var left = Math.max(Math.round(0.12 * px), Math.round(3.4 * font)), top = Math.round(0.02 * px);
      area = {left: left, top: top, size: px - left - top, px: px, font: font};
      return px;
    }

    function toPixel(c) {
      return [area.left + (c[0] - view.x0) / (view.x1 - view.x0) * area.size,
              area.top + (view.y1 - c[1]) / (view.y1 - view.y0) * area.size];
    }

    function background() {  // the scatter, the prior's circles and the axes, drawn once per view off screen
      var key = [model, area.px, view.x0, view.x1, view.y0, view.y1].join(" ");
      if (cache[key]) return cache[key];
      var canvas = document.createElement("canvas"), px = area.px;
      canvas.width = canvas.height = px;
      var ctx = canvas.getContext("2d"), dot = Math.max(2, px / 160), font = area.font;
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, px, px);
      ctx.save();
      ctx.beginPath();
      ctx.rect(area.left, area.top, area.size, area.size);
      ctx.clip();
      var points = planes[model], labels = data.plane.labels;
      for (var i = 0; i < points.length; i++) {
        var p = toPixel(points[i]);
        ctx.fillStyle = COLOURS[labels[i]];
        ctx.fillRect(p[0] - dot / 2, p[1] - dot / 2, dot, dot);
      }
      var centre = toPixel([0, 0]), unit = area.size / (view.x1 - view.x0);
      ctx.strokeStyle = "#555";
      ctx.lineWidth = Math.max(1, px / 400);
      [1, 2].forEach(function (k) {
        ctx.setLineDash(k === 1 ? [] : [px / 100, px / 100]);
        ctx.beginPath();
        ctx.arc(centre[0], centre[1], k * unit, 0, 2 * Math.PI);
        ctx.stroke();
      });
      ctx.restore();
      ctx.setLineDash([]);
      ctx.strokeStyle = "#888";
      ctx.strokeRect(area.left, area.top, area.size, area.size);
      ctx.fillStyle = "#333";
      ctx.font = font + "px sans-serif";
      var step = niceStep(view.x1 - view.x0), tick = px / 80;
      for (var v = Math.ceil(view.x0 / step) * step; v <= view.x1; v += step) {
        var x = toPixel([v, 0])[0];
        ctx.fillRect(x, area.top + area.size, 1, tick);
        ctx.textAlign = "center";
        ctx.textBaseline = "top";
        ctx.fillText(fmt(v).replace(".00", ""), x, area.top + area.size + tick + 1);
      }
      for (v = Math.ceil(view.y0 / step) * step; v <= view.y1; v += step) {
        var y = toPixel([0, v])[1];
        ctx.fillRect(area.left - tick, y, tick, 1);
        ctx.textAlign = "right";
        ctx.textBaseline = "middle";
        ctx.fillText(fmt(v).replace(".00", ""), area.left - tick - 2, y);
      }
      ctx.textAlign = "center";
      ctx.textBaseline = "bottom";
      ctx.fillText("z₁", area.left + area.size / 2, px);
      ctx.save();
      ctx.translate(font, area.top + area.size / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textBaseline = "middle";
      ctx.fillText("z₂", 0, 0);
      ctx.restore();
      return (cache[key] = canvas);
    }

    function drawPlane() {
      if (!size()) return;  // not laid out (hidden)
      scatter.getContext("2d").drawImage(background(), 0, 0);
      plane.setAttribute("data-view", JSON.stringify({
        x0: view.x0, x1: view.x1, y0: view.y0, y1: view.y1, ratio: area.px / plane.clientWidth,
        left: area.left, top: area.top, size: area.size}));
      drawOverlay();
    }

    function drawOverlay() {  // the crosshair at z and the posterior's ellipses: the only drawing a move does
      var px = area.px, ctx = plane.getContext("2d");
      if (!px) return;
      ctx.clearRect(0, 0, px, px);
      ctx.save();
      ctx.beginPath();
      ctx.rect(area.left, area.top, area.size, area.size);
      ctx.clip();
      if (posterior) {
        var m = toPixel(posterior.mu), unit = area.size / (view.x1 - view.x0), sigma = posterior.sigma;
        ctx.lineWidth = Math.max(2, px / 170);
        [2, 1].forEach(function (k) {
          ctx.strokeStyle = ELLIPSE[k - 1];
          ctx.beginPath();
          ctx.ellipse(m[0], m[1], k * sigma[0] * unit, k * sigma[1] * unit, 0, 0, 2 * Math.PI);
          ctx.stroke();
        });
        ctx.fillStyle = ELLIPSE[0];
        ctx.beginPath();
        ctx.arc(m[0], m[1], Math.max(3, px / 120), 0, 2 * Math.PI);
        ctx.fill();
        plane.setAttribute("data-ellipse", JSON.stringify({model: posterior.model, mu: posterior.mu, sigma: sigma}));
      } else {
        plane.removeAttribute("data-ellipse");
      }
      var c = toPixel(z), r = px / 40;
      ctx.strokeStyle = "#000";
      ctx.lineWidth = Math.max(1.5, px / 200);
      ctx.beginPath();
      ctx.arc(c[0], c[1], r, 0, 2 * Math.PI);
      ctx.moveTo(c[0] - 2 * r, c[1]); ctx.lineTo(c[0] - r, c[1]);
      ctx.moveTo(c[0] + r, c[1]); ctx.lineTo(c[0] + 2 * r, c[1]);
      ctx.moveTo(c[0], c[1] - 2 * r); ctx.lineTo(c[0], c[1] - r);
      ctx.moveTo(c[0], c[1] + r); ctx.lineTo(c[0], c[1] + 2 * r);
      ctx.stroke();
      ctx.restore();
    }

    function current() { return data.plane.names[model]; }

    function update() {
      var name = current();
      readout.textContent = "z = (" + fmt(z[0]) + ", " + fmt(z[1]) + ") · " + beta(data.plane.betas[model]);
      drawOverlay();
      withModel(name, current, function (net) { show(digit, net, z); }, function () { blank(digit); }, error);
    }

    function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }

    function setZ(next) {
      z = [clamp(next[0], view.x0, view.x1), clamp(next[1], view.y0, view.y1)];
      update();
    }

    var move = onFrame(function () {  // a drag's latest position, once per frame
      var ratio = area.px / box.width;  // the box as the drag began: no layout mid-drag
      var u = ((pointer[0] - box.left) * ratio - area.left) / area.size;
      var v = ((pointer[1] - box.top) * ratio - area.top) / area.size;
      setZ([view.x0 + (view.x1 - view.x0) * u, view.y1 - (view.y1 - view.y0) * v]);
    });

    function choose(index) {
      model = index;
      view = extent();
      drawPlane();
      setZ(z);
      encode();
    }

    // the encoder's posterior of the picked or drawn digit, under the chosen β's encoder
    function encodedKey() { return current() + ENCODER; }

    function encode() {
      if (!pixels) return;
      var key = encodedKey(), name = current();
      withModel(key, encodedKey, function (net) {
        var result = encodeWith(net, pixels);
        var sigma = result.logvar.map(function (v) { return Math.exp(0.5 * v); });
        posterior = {model: name, mu: result.mu, sigma: sigma};
        posteriorOut.textContent = "μ = (" + fmt(result.mu[0]) + ", " + fmt(result.mu[1]) + "), σ = (" +
                                   fmt(sigma[0]) + ", " + fmt(sigma[1]) + ") · " + beta(data.plane.betas[model]);
        drawOverlay();
        var kl = 0;  // KL(q(z|x) || N(0, I)), closed form
        for (var d = 0; d < result.mu.length; d++) kl += 0.5 * (result.mu[d] * result.mu[d] + sigma[d] * sigma[d] - 1 - result.logvar[d]);
        withModel(name, current, function (decoder) {
          show(recon, decoder, result.mu);
          var logits = run(decoder, result.mu, false), bce = 0;  // -log p(x | mu), Bernoulli, from the logits
          for (var i = 0; i < PIXELS; i++) {
            var l = logits[i];
            bce += Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l))) - pixels[i] * l;
          }
          rateOut.textContent = "KL = " + kl.toFixed(2) + " nats; −log p(x | μ) = " + bce.toFixed(2) + " nats";
        }, function () { blank(recon); rateOut.textContent = ""; }, encodeError);
      }, forget, encodeError);
    }

    function forget() {  // no posterior to show until this β's encoder has one
      posterior = null;
      posteriorOut.textContent = rateOut.textContent = "";
      blank(recon);
      drawOverlay();
    }

    function encodePixels(next, source) {
      pixels = next;
      paint(input.getContext("2d"), pixels, 0, 0);
      input.setAttribute("aria-label", "the digit being encoded: " + source);
      encode();
    }

    var picks = document.getElementById("vx-n2-picks");
    data.plane.picks.forEach(function (b64, i) {
      var label = data.plane.pick_labels[i];
      var button = digitButton(b64, "encode a test digit, a " + label);
      button.addEventListener("click", function () {
        Array.prototype.forEach.call(picks.children, function (other) { other.setAttribute("aria-pressed", "false"); });
        button.setAttribute("aria-pressed", "true");
        encodePixels(image(b64), "a test " + label);
      });
      button.setAttribute("aria-pressed", "false");
      picks.appendChild(button);
    });
    drawingPad(function (drawn) {
      Array.prototype.forEach.call(picks.children, function (other) { other.setAttribute("aria-pressed", "false"); });
      encodePixels(drawn, "drawn on the pad");
    });

    plane.addEventListener("pointerdown", function (event) {
      dragging = true;
      plane.setPointerCapture(event.pointerId);
      box = plane.getBoundingClientRect();
      pointer = [event.clientX, event.clientY];
      move();
    });
    plane.addEventListener("pointermove", function (event) {
      if (!dragging) return;  // a hover does not move z
      pointer = [event.clientX, event.clientY];
      move();
    });
    plane.addEventListener("pointerup", function () { dragging = false; });
    plane.addEventListener("pointercancel", function () { dragging = false; });
    plane.addEventListener("keydown", function (event) {
      var step = (view.x1 - view.x0) / 50 * (event.shiftKey ? 5 : 1);
      var shift = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step]}[event.key];
      if (!shift) return;
      event.preventDefault();
      setZ([z[0] + shift[0], z[1] + shift[1]]);
    });
    group.addEventListener("change", function (event) { choose(Number(event.target.value)); });
    same.addEventListener("change", function () { choose(model); });
    window.addEventListener("resize", onFrame(drawPlane));
    choose(model);
  }

  // The 28 x 28 pad: strokes of a soft pen, then the digit moved so that its centre of mass is
  // the field's centre, as MNIST's digits are (LeCun et al. 1998); ``done`` gets the pixels.
  function drawingPad(done) {
    var pad = document.getElementById("vx-n2-pad");
    var ink = new Float64Array(PIXELS), last = null, drawing = false;
    var redraw = onFrame(function () { paint(pad.getContext("2d"), ink, 0, 0); });
    var send = onFrame(function () { done(centred(ink)); });

    function stamp(x, y) {
      for (var r = Math.floor(y - 2); r <= Math.ceil(y + 2); r++) {
        for (var c = Math.floor(x - 2); c <= Math.ceil(x + 2); c++) {
          if (r < 0 || c < 0 || r >= SIDE || c >= SIDE) continue;
          var d = Math.hypot(c + 0.5 - x, r + 0.5 - y);
          ink[r * SIDE + c] = Math.max(ink[r * SIDE + c], Math.min(1, Math.max(0, 1.6 - d)));
        }
      }
    }

    function at(event) {
      var box = pad.getBoundingClientRect();
      return [(event.clientX - box.left) / box.width * SIDE, (event.clientY - box.top) / box.height * SIDE];
    }

    function stroke(event) {
      var p = at(event), from = last || p, steps = Math.max(1, Math.ceil(Math.hypot(p[0] - from[0], p[1] - from[1]) * 4));
      for (var s = 1; s <= steps; s++) stamp(from[0] + (p[0] - from[0]) * s / steps, from[1] + (p[1] - from[1]) * s / steps);
      last = p;
      redraw();
      send();
    }

    pad.addEventListener("pointerdown", function (event) {
      drawing = true;
      last = null;
      pad.setPointerCapture(event.pointerId);
      stroke(event);
    });
    pad.addEventListener("pointermove", function (event) { if (drawing) stroke(event); });
    pad.addEventListener("pointerup", function () { drawing = false; });
    pad.addEventListener("pointercancel", function () { drawing = false; });
    document.getElementById("vx-n2-clear").addEventListener("click", function () {
      ink.fill(0);
      redraw();
    });
    redraw();
  }

  function centred(ink) {
    var mass = 0, sx = 0, sy = 0;
    for (var i = 0; i < PIXELS; i++) { mass += ink[i]; sx += ink[i] * (i % SIDE); sy += ink[i] * Math.floor(i / SIDE); }
    if (!mass) return Array.from(ink);
    var dx = Math.round((SIDE - 1) / 2 - sx / mass), dy = Math.round((SIDE - 1) / 2 - sy / mass), out = new Array(PIXELS).fill(0);
    for (var r = 0; r < SIDE; r++) {
      for (var c = 0; c < SIDE; c++) {
        var rr = r + dy, cc = c + dx;
        if (rr >= 0 && cc >= 0 && rr < SIDE && cc < SIDE) out[rr * SIDE + cc] = ink[r * SIDE + c];
      }
    }
    return out;
  }

  // the largest latent size: prior draws per β, a path between two test digits, the dimensions with most KL
  function spacePart() {
    var space = data.space;
    var slider = document.getElementById("vx-n64-beta");
    var betaOut = document.getElementById("vx-n64-beta-value");
    var samples = document.getElementById("vx-n64-samples");
    var seedInput = document.getElementById("vx-n64-seed");
    var t = document.getElementById("vx-n64-t");
    var film = document.getElementById("vx-n64-film");
    var digit = document.getElementById("vx-n64-digit");
    var readout = document.getElementById("vx-n64-z");
    var dims = document.getElementById("vx-n64-dims");
    var activeNote = document.getElementById("vx-n64-active");
    var error = document.getElementById("vx-n64-error");
    var strip = document.getElementById("vx-n64-strip");
    var ends = [0, 1], next = 0, seed = 0, codes = draws(seed, space.draws, space.n), edits = {}, shownDims = null;
    var drawn = {samples: null, film: null};  // what the draws and the film show: a move along t or a slider redraws neither
    var columns = Math.ceil(Math.sqrt(space.draws));
    samples.width = samples.height = columns * (SIDE + 1) - 1;
    film.width = space.steps * (SIDE + 1) - 1;
    slider.max = space.betas.length - 1;
    slider.value = Math.max(0, space.betas.indexOf(1));

    space.strip.forEach(function (b64, i) {
      var label = space.strip_labels[i];
      var button = digitButton(b64, "test digit " + (i + 1) + ", a " + label + ": make it the next end of the path");
      button.addEventListener("click", function () {
        if (ends.indexOf(i) >= 0) return;
        ends[next] = i;
        next = 1 - next;
        edits = {};
        update();
      });
      strip.appendChild(button);
    });

    function current() { return space.names[Number(slider.value)]; }

    function pathCode(index, s) {
      var a = space.codes[index][ends[0]], b = space.codes[index][ends[1]];
      return a.map(function (v, d) { return (1 - s) * v + s * b[d]; });
    }

    function sliders(index, code) {  // one per dimension of most KL, at the code's coordinate unless moved
      if (shownDims !== index) {
        dims.innerHTML = "";
        space.dims[index].forEach(function (dim) {
          var label = document.createElement("label");
          label.className = "vx-slider vx-dim" + (dim.active ? "" : " vx-collapsed");
          label.innerHTML = "<span>z<sub>" + (dim.dim + 1) + "</sub> · " + dim.kl.toFixed(2) + " nats" +
                            (dim.active ? "" : ", collapsed") + "</span>" +
                            '<input type="range" min="-4" max="4" step="0.05" data-dim="' + dim.dim + '">';
          label.querySelector("input").addEventListener("input", function (event) {
            edits[dim.dim] = Number(event.target.value);
            schedule();
          });
          dims.appendChild(label);
        });
        shownDims = index;
        var collapsed = space.n - space.active[index];
        activeNote.textContent = collapsed + " of the " + space.n + " dimensions are collapsed at " + beta(space.betas[index]) +
                                 ": their posterior is the same for every digit, and the decoder ignores them.";
      }
      Array.prototype.forEach.call(dims.querySelectorAll("input"), function (input) {
        var d = Number(input.dataset.dim);
        if (!(d in edits)) input.value = code[d];
        input.setAttribute("aria-valuetext", "z" + (d + 1) + " = " + fmt(Number(input.value)));
      });
    }

    function draw(net) {
      var index = Number(slider.value);
      if (drawn.samples !== net.name + " " + seed) {
        var ctx = samples.getContext("2d");
        ctx.fillStyle = "#ccc";
        ctx.fillRect(0, 0, samples.width, samples.height);
        codes.forEach(function (code, k) {
          paint(ctx, forward(net, code), (k % columns) * (SIDE + 1), Math.floor(k / columns) * (SIDE + 1));
        });
        samples.setAttribute("data-model", net.name);
        samples.setAttribute("data-seed", String(seed));
        drawn.samples = net.name + " " + seed;
      }
      if (drawn.film !== net.name + " " + ends) {
        var strips = film.getContext("2d");
        strips.fillStyle = "#ccc";
        strips.fillRect(0, 0, film.width, film.height);
        for (var k = 0; k < space.steps; k++) {
          paint(strips, forward(net, pathCode(index, k / (space.steps - 1))), k * (SIDE + 1), 0);
        }
        film.setAttribute("data-model", net.name);
        drawn.film = net.name + " " + ends;
      }
      var s = Number(t.value) / 100, code = pathCode(index, s);
      sliders(index, code);
      var moved = Object.keys(edits);
      moved.forEach(function (d) { code[d] = edits[d]; });
      show(digit, net, code);
      readout.textContent = "t = " + s.toFixed(2) + " from the first digit to the second" +
        (moved.length ? "; " + moved.map(function (d) { return "z" + (Number(d) + 1) + " = " + fmt(edits[d]); }).join(", ") : "");
    }

    function update() {
      var index = Number(slider.value);
      betaOut.textContent = beta(space.betas[index]);
      slider.setAttribute("aria-valuetext", beta(space.betas[index]));
      Array.prototype.forEach.call(strip.children, function (button, i) {
        var role = ends.indexOf(i);
        button.setAttribute("aria-pressed", role >= 0 ? "true" : "false");
        button.querySelector(".vx-role").textContent = role === 0 ? "from" : role === 1 ? "to" : "";
      });
      withModel(current(), current, draw, function () {
        [samples, film, digit].forEach(blank);
        dims.innerHTML = "";
        shownDims = null;
        drawn = {samples: null, film: null};
      }, error);
    }

    var schedule = onFrame(update);

    function reseed(value) {
      seed = value >>> 0;
      seedInput.value = seed;
      codes = draws(seed, space.draws, space.n);
      update();
    }

    slider.addEventListener("input", function () { edits = {}; shownDims = null; update(); });
    t.addEventListener("input", function () { edits = {}; schedule(); });
    seedInput.addEventListener("change", function () { reseed(Number(seedInput.value) || 0); });
    document.getElementById("vx-n64-new").addEventListener("click", function () {
      reseed(Math.floor(Math.random() * 1e6));
    });
    update();
  }

  // n = 1: a slider over z
  function linePart() {
    var input = document.getElementById("vx-n1-z-input");
    var digit = document.getElementById("vx-n1-digit");
    var readout = document.getElementById("vx-n1-z");
    var error = document.getElementById("vx-n1-error");
    var name = data.line.names[0];
    function current() { return name; }
    function update() {
      var z = [Number(input.value)];
      readout.textContent = "z = " + fmt(z[0]);
      input.setAttribute("aria-valuetext", "z = " + fmt(z[0]));
      withModel(name, current, function (net) { show(digit, net, z); }, function () { blank(digit); }, error);
    }
    input.addEventListener("input", update);
    update();
  }

  planePart();
  whenVisible(document.getElementById("vx-n64"), spacePart);
  whenVisible(document.getElementById("vx-n1"), linePart);
})();
