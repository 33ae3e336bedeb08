/* report/page.js — the attention explorer of a sinkscope report: plain JavaScript,
 * no library, compiled into sinkscope (report/assets.c) and inlined into the page.
 *
 * Data (report/maps.c), the JSON block #ss-data: code_decades, and runs[] =
 * {label, seq, positions, n, tokens[n], layers[] = {layer, heads[], maps}}, where maps
 * is base64 of little-endian uint16 codes, head after head (in the order of heads),
 * rows q = 0..n-1, keys k = 0..q; code c > 0 stands for 10^(code_decades (c/65535 - 1)),
 * 0 for 0.
 *
 * View: a query token (hovered, else the one clicked) shows its row A[q, 0..q]; with
 * none, the mean over queries q >= 1 (q >= 0 with "include query 0") of the attention
 * each key receives, which at key 0 is the sequence's first-token share. "mean" over
 * heads is the mean of the rows of the dumped heads. Colours and bars share one scale:
 * linear 0..1, or log 1e-4..1. Each key token carries its value in data-v (six digits)
 * and the status line the query in data-query (-1: the mean view), for tests. */
(function () {
  'use strict';
  var block = document.getElementById('ss-data');
  if (!block) {
    return;
  }
  var data = JSON.parse(block.textContent);
  var runs = data.runs;
  var LOG_FLOOR_DECADES = 4;
  var SVGNS = 'http://www.w3.org/2000/svg';
  function byId(id) {
    return document.getElementById(id);
  }
  var ui = {
    run: byId('ex-run'), layer: byId('ex-layer'), head: byId('ex-head'), q0: byId('ex-q0'), log: byId('ex-log'),
    tokens: byId('ex-tokens'), bars: byId('ex-bars'), status: byId('ex-status'), info: byId('ex-info'),
    scale: byId('ex-scale')
  };
  var state = {run: 0, layer: 0, head: -1, hover: -1, pinned: -1};
  var cache = {keys: [], maps: {}};

  /* The decoded maps of one layer of one run: Float32Array [head][q(q+1)/2 + k]. */
  function layerMaps(run, li) {
    var key = run + '/' + li;
    if (cache.maps[key]) {
      return cache.maps[key];
    }
    var bin = atob(runs[run].layers[li].maps);
    var n = bin.length >> 1, out = new Float32Array(n), dec = data.code_decades;
    for (var i = 0; i < n; i++) {
      var c = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
      out[i] = c ? Math.pow(10, dec * (c / 65535 - 1)) : 0;
    }
    cache.keys.push(key);
    cache.maps[key] = out;
    if (cache.keys.length > 8) {
      delete cache.maps[cache.keys.shift()];
    }
    return out;
  }

  /* Row q of the selected head (or the mean over the dumped heads): q + 1 values. */
  function row(q) {
    var r = runs[state.run], lay = r.layers[state.layer], m = layerMaps(state.run, state.layer);
    var tri = r.n * (r.n + 1) / 2, off = q * (q + 1) / 2, out = new Float64Array(q + 1);
    var first = state.head >= 0 ? state.head : 0, last = state.head >= 0 ? state.head : lay.heads.length - 1;
    for (var h = first; h <= last; h++) {
      for (var k = 0; k <= q; k++) {
        out[k] += m[h * tri + off + k];
      }
    }
    for (k = 0; k <= q; k++) {
      out[k] /= last - first + 1;
    }
    return out;
  }

  /* Mean over queries of the attention each key receives (queries that cannot see a key add 0). */
  function meanRow() {
    var n = runs[state.run].n, q0 = ui.q0.checked ? 0 : 1, out = new Float64Array(n);
    for (var q = q0; q < n; q++) {
      var r = row(q);
      for (var k = 0; k <= q; k++) {
        out[k] += r[k];
      }
    }
    for (k = 0; k < n && n > q0; k++) {
      out[k] /= n - q0;
    }
    return out;
  }

  /* Colour intensity / bar height in [0, 1] on the chosen scale. */
  function level(v) {
    if (!(v > 0)) {
      return 0;
    }
    if (!ui.log.checked) {
      return Math.min(1, v);
    }
    return Math.max(0, Math.min(1, 1 + Math.log10(v) / LOG_FLOOR_DECADES));
  }

  function colour(v) {
    return 'rgba(213, 94, 0, ' + level(v).toFixed(3) + ')';
  }

  function human(v) {
    return v >= 0.001 || v === 0 ? v.toFixed(4) : v.toExponential(2);
  }

  /* A token as shown: newlines and tabs visible, the empty piece as a sign. */
  function shown(t) {
    var s = t.replace(/\r/g, '\\r').replace(/\n/g, '\u21b5').replace(/\t/g, '\u2192');
    return s.length ? s : '\u2205';
  }

  function quoted(i) {
    return '\u201c' + shown(runs[state.run].tokens[i]) + '\u201d';
  }

  function option(sel, value, text) {
    var o = document.createElement('option');
    o.value = value;
    o.textContent = text;
    sel.appendChild(o);
  }

  function fillLayers() {
    var r = runs[state.run];
    ui.layer.textContent = '';
    r.layers.forEach(function (l, i) {
      option(ui.layer, i, 'layer ' + (l.layer + 1) + ' (index ' + l.layer + ')');
    });
    state.layer = Math.min(state.layer, r.layers.length - 1);
    ui.layer.value = state.layer;
    fillHeads();
  }

  function fillHeads() {
    var heads = runs[state.run].layers[state.layer].heads;
    ui.head.textContent = '';
    option(ui.head, -1, 'mean of ' + heads.length + ' head' + (heads.length > 1 ? 's' : ''));
    heads.forEach(function (h, i) {
      option(ui.head, i, 'head ' + h);
    });
    state.head = Math.min(state.head, heads.length - 1);
    ui.head.value = state.head;
  }

  function buildTokens() {
    var r = runs[state.run];
    ui.tokens.textContent = '';
    r.tokens.forEach(function (t, i) {
      var s = document.createElement('span');
      s.className = 'tok';
      s.dataset.i = i;
      s.textContent = shown(t);
      ui.tokens.appendChild(s);
      if (t.indexOf('\n') >= 0) {
        ui.tokens.appendChild(document.createElement('br'));
      }
    });
    ui.info.textContent = r.label + ': sequence ' + r.seq + ', positions 0..' + (r.n - 1) + ' of ' + r.positions +
      (r.n < r.positions ? ' (cut by --map-tokens)' : '') + ', ' + r.layers.length + ' dumped layer' +
      (r.layers.length > 1 ? 's' : '') + '.';
  }

  function svg(name, attrs, parent) {
    var e = document.createElementNS(SVGNS, name);
    Object.keys(attrs).forEach(function (a) {
      e.setAttribute(a, attrs[a]);
    });
    parent.appendChild(e);
    return e;
  }

  /* One bar per key on the colour scale; the query's own key outlined. */
  function drawBars(vals, q) {
    var n = runs[state.run].n, W = 1000, H = 160, top = 14, bottom = 18, left = 44;
    var bw = (W - left) / n, ph = H - top - bottom, g = ui.bars;
    g.textContent = '';
    g.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg('line', {x1: left, y1: top + ph, x2: W, y2: top + ph, 'class': 'axis'}, g);
    svg('text', {x: left - 4, y: top + 4, 'class': 'tick'}, g).textContent = '1';
    svg('text', {x: left - 4, y: top + ph, 'class': 'tick'}, g).textContent = ui.log.checked ? '1e-4' : '0';
    svg('text', {x: left, y: H - 3, 'class': 'label'}, g).textContent =
      q >= 0 ? 'key position (query ' + q + ')' : 'key position (mean over queries)';
    for (var k = 0; k < vals.length; k++) {
      var h = level(vals[k]) * ph;
      var b = svg('rect', {x: left + k * bw + 0.1 * bw, y: top + ph - h, width: 0.8 * bw, height: Math.max(h, 0),
                           'class': k === q ? 'bar self' : 'bar'}, g);
      svg('title', {}, b).textContent = 'key ' + k + ' ' + quoted(k) + ': ' + human(vals[k]);
    }
  }

  function render() {
    var r = runs[state.run], q = state.hover >= 0 ? state.hover : state.pinned;
    var vals = q >= 0 ? row(q) : meanRow();
    var spans = ui.tokens.querySelectorAll('.tok'), best = 0;
    for (var k = 0; k < spans.length; k++) {
      var s = spans[k], seen = k < vals.length;
      s.classList.toggle('query', k === q);
      s.classList.toggle('pinned', k === state.pinned);
      s.classList.toggle('future', !seen);
      s.style.backgroundColor = seen ? colour(vals[k]) : '';
      s.dataset.v = seen ? vals[k].toPrecision(6) : '';
      s.title = 'position ' + k + (seen ? ': ' + human(vals[k]) : ' (after the query)');
      if (seen && vals[k] > vals[best]) {
        best = k;
      }
    }
    var l = r.layers[state.layer], head = state.head >= 0 ? 'head ' + l.heads[state.head] : 'mean over heads';
    var what = q >= 0 ? 'query ' + q + ' ' + quoted(q) + (state.hover < 0 ? ' (clicked)' : '') :
      'mean over queries q \u2265 ' + (ui.q0.checked ? 0 : 1) + ' (hover a token for its row)';
    ui.status.textContent = 'layer ' + (l.layer + 1) + ', ' + head + ', ' + what + ': largest key ' + best + ' ' +
      quoted(best) + ' = ' + human(vals[best]) + '; key 0 = ' + human(vals[0]) + '.';
    ui.status.dataset.query = q;
    ui.scale.textContent = ui.log.checked ? 'colour and bars: log scale, 1e-4 (white) to 1' :
      'colour and bars: linear scale, 0 (white) to 1';
    drawBars(vals, q);
  }

  function tokenIndex(target) {
    return target.classList && target.classList.contains('tok') ? Number(target.dataset.i) : -1;
  }

  runs.forEach(function (r, i) {
    option(ui.run, i, r.label);
  });
  ui.run.addEventListener('change', function () {
    state.run = Number(ui.run.value);
    state.hover = state.pinned = -1;
    fillLayers();
    buildTokens();
    render();
  });
  ui.layer.addEventListener('change', function () {
    state.layer = Number(ui.layer.value);
    fillHeads();
    render();
  });
  ui.head.addEventListener('change', function () {
    state.head = Number(ui.head.value);
    render();
  });
  ui.q0.addEventListener('change', render);
  ui.log.addEventListener('change', render);
  ui.tokens.addEventListener('mouseover', function (e) {
    var i = tokenIndex(e.target);
    if (i >= 0 && i !== state.hover) {
      state.hover = i;
      render();
    }
  });
  ui.tokens.addEventListener('mouseleave', function () {
    state.hover = -1;
    render();
  });
  ui.tokens.addEventListener('click', function (e) {
    var i = tokenIndex(e.target);
    if (i >= 0) {
      state.pinned = state.pinned === i ? -1 : i;
      render();
    }
  });
  fillLayers();
  buildTokens();
  render();
}());
