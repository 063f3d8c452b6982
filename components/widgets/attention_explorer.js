// The attention explorer: every layer and head of one result arrives once (components/figures/attention_payload.py
// describes the bytes); hover, layer, head and keyboard moves are drawn here with no script rerun. Only a click
// (or a tap, or Enter) pins a selection and sends it to Python with setStateValue("selection", ...).
// Timings for the browser benchmark: window.__aex[key].timings.{hover,switch} hold event-to-painted-frame ms.
// The layer x head grid colours one number per head (payload section "summary", computed in Python from the float
// maps: attention_payload.head_summaries); hovering a cell previews that head's map, a click shows and pins it.
// Two directions (payload header "directions", early fusion): the matrix drawn is always words (rows, the chips) x
// patches (columns, the image). Forward (text -> image) a row is a word's attention; reverse (image -> text) the
// payload stores the transpose, so a column is a patch's own attention over the words and a row is how much each
// patch looked at that word. The direction buttons swap which arrays are drawn: no script rerun.
const VIRIDIS = __VIRIDIS__;  // plotly's Viridis stops: [[position, "#rrggbb"], ...]
const LUT = (() => {  // 256 RGB entries, linear between the stops
  const stops = VIRIDIS.map(([p, hex]) => [p, parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16),
                                           parseInt(hex.slice(5, 7), 16)]);
  const out = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let j = 0;
    while (j < stops.length - 2 && t > stops[j + 1][0]) j++;
    const [p0, r0, g0, b0] = stops[j], [p1, r1, g1, b1] = stops[j + 1];
    const f = p1 > p0 ? Math.min(1, Math.max(0, (t - p0) / (p1 - p0))) : 0;
    out[3 * i] = Math.round(r0 + f * (r1 - r0));
    out[3 * i + 1] = Math.round(g0 + f * (g1 - g0));
    out[3 * i + 2] = Math.round(b0 + f * (b1 - b0));
  }
  return out;
})();
const HEAT_ALPHA = [0.25, 0.8];  // the heatmap's opacity from weight 0 to the view's max: the picture reads through
const OUTLINE = "#00e5ff";  // patch_overlay's box colour
const METRICS = {  // the grid's select: label, unit, digits
  entropy: {label: "entropy", unit: " bits", digits: 2},
  spread: {label: "mean distance (spread)", unit: "", digits: 2},
  mass: {label: "cross-modal mass", unit: "", digits: 3},
};

function bytesOf(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

function parse(bytes) {
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== "AEX1") throw new Error("not an attention explorer payload");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  const section = (name) => {
    const [at, size] = header.offsets[name];
    return bytes.subarray(at, at + size);
  };
  const direction = (suffix) => {  // one direction's uint8 maps, per-view scales and layer x head summaries
    const codes = section("maps" + suffix);
    const rawScales = section("scales" + suffix);  // 4-byte aligned inside the payload, but the payload may not be
    const scales = new Float32Array(rawScales.byteLength / 4);
    new Uint8Array(scales.buffer).set(rawScales);
    const summary = {};  // name -> Float32Array (L * H), layer-major
    if (header.offsets["summary" + suffix]) {
      const raw = section("summary" + suffix), all = new Float32Array(raw.byteLength / 4);
      const n = header.layers * header.heads;
      new Uint8Array(all.buffer).set(raw);
      (header.summary || []).forEach((name, i) => { summary[name] = all.subarray(i * n, (i + 1) * n); });
    }
    return {codes, scales, summary};
  };
  const image = header.offsets.image ? section("image") : null;
  const dirs = header.directions ? [direction(""), direction(".1")] : [direction("")];
  return {header, image, dirs};
}

const arrow = (id) => String(id).replace("->", " → ");

function el(tag, cls, parent, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

class Explorer {
  constructor(root, payload) {
    this.root = root;
    this.timings = {hover: [], switch: [], work: []};  // work: ms spent drawing a frame
    this.paints = 0;
    this.pending = [];  // [{kind, t0}] events waiting for the next painted frame
    this.load(payload);
  }

  load(payload) {
    const {header, image, dirs} = payload;
    this.h = header;
    this.L = header.layers; this.H = header.heads; this.Q = header.queries; this.K = header.keys;
    this.grid = header.grid;  // [rows, cols] or null (a 1-D strip)
    this.dirs = dirs.map((d, i) => ({...d, id: header.directions ? header.directions[i] : null, reversed: i === 1,
                                     cache: new Map()}));  // each direction keeps its own computed views
    this.shownView = null;  // the "direction|layer|head" drawn in the matrix: redrawn only when it changes
    this.preview = null;  // {layer, head} while the pointer is on a cell of the layer x head grid
    const sel = header.selected || {};
    this.useDirection(sel.direction);
    this.layer = sel.layer ?? this.L - 1;
    this.head = sel.head ?? "mean";
    this.pinQ = Math.min(sel.query ?? 0, this.Q - 1);
    this.pinK = sel.key ?? null;
    this.hoverQ = null; this.hoverK = null;
    this.area = "tokens";  // what the arrow keys move: "tokens" or "keys"
    this.build();
    this.paintSummary();
    this.image = null;
    if (image) {
      const url = URL.createObjectURL(new Blob([image], {type: header.image_mime}));
      const picture = new Image();
      picture.onload = () => { this.image = picture; this.schedule("load"); };
      picture.src = url;
    }
    this.viewDirty = true;
    this.schedule("load");
  }

  useDirection(id) {  // draw from one direction's arrays (the first when id names none)
    this.dir = Math.max(0, this.dirs.findIndex((d) => d.id === id));
    const d = this.dirs[this.dir];
    this.codes = d.codes; this.scales = d.scales; this.summary = d.summary; this.viewCache = d.cache;
    this.reversed = d.reversed;
  }

  applySelected(sel) {  // a new view from Python (a shared link): no rerun back
    if (!sel) return;
    if (sel.direction !== undefined && this.dirs[this.dir].id !== sel.direction) {
      this.useDirection(sel.direction);
      this.paintSummary();
    }
    if (sel.layer !== undefined) this.layer = sel.layer;
    if (sel.head !== undefined) this.head = sel.head;
    if (sel.query !== undefined && sel.query !== null) this.pinQ = Math.min(sel.query, this.Q - 1);
    if (sel.key !== undefined) this.pinK = sel.key;
    this.viewDirty = true;
    this.schedule("load");
  }

  // ---- data -------------------------------------------------------------------------------------------------
  headMap(l, h) {  // (Q, K) float32, dequantised
    const id = `${l}|${h}`;
    let out = this.viewCache.get(id);
    if (out) return out;
    const n = this.Q * this.K, base = (l * this.H + h) * n, s = this.scales[l * this.H + h] / 255;
    out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.codes[base + i] * s;
    this.viewCache.set(id, out);
    return out;
  }

  layerHeads(layer) {  // H maps (Q, K) of one layer, or each head's mean over layers
    if (layer !== "mean") return Array.from({length: this.H}, (_, h) => this.headMap(layer, h));
    const id = "mean|heads";
    let out = this.viewCache.get(id);
    if (out) return out;
    out = [];
    for (let h = 0; h < this.H; h++) {
      const acc = new Float32Array(this.Q * this.K);
      for (let l = 0; l < this.L; l++) {
        const m = this.headMap(l, h);
        for (let i = 0; i < acc.length; i++) acc[i] += m[i];
      }
      for (let i = 0; i < acc.length; i++) acc[i] /= this.L;
      out.push(acc);
    }
    this.viewCache.set(id, out);
    return out;
  }

  viewMap(layer, head) {  // (Q, K) of the chosen view and its max (the view's fixed colour scale)
    const id = `view|${layer}|${head}`;
    let out = this.viewCache.get(id);
    if (out) return out;
    const heads = this.layerHeads(layer);
    let m;
    if (head === "mean" || head === "max") {
      m = new Float32Array(this.Q * this.K);
      if (head === "max") m.set(heads[0]);
      for (let h = head === "max" ? 1 : 0; h < this.H; h++) {
        const a = heads[h];
        if (head === "max") { for (let i = 0; i < m.length; i++) if (a[i] > m[i]) m[i] = a[i]; }
        else for (let i = 0; i < m.length; i++) m[i] += a[i];
      }
      if (head === "mean") for (let i = 0; i < m.length; i++) m[i] /= this.H;
    } else {
      m = heads[head];
    }
    let max = 0;
    for (let i = 0; i < m.length; i++) if (m[i] > max) max = m[i];
    out = {m, max: max > 0 ? max : 1};
    this.viewCache.set(id, out);
    return out;
  }

  // ---- DOM --------------------------------------------------------------------------------------------------
  build() {
    const root = this.root;
    root.replaceChildren();
    root.className = "aex";
    root.tabIndex = 0;
    const top = el("div", "aex-top", root);
    el("div", "aex-title", top, this.h.title || "");
    this.status = el("div", "aex-status", top);

    const controls = el("div", "aex-controls", root);
    const pills = (label, kind, values, name) => {
      const row = el("div", "aex-row", controls);
      el("span", "aex-label", row, label);
      const box = el("div", "aex-pills", row);
      box.dataset.kind = kind;
      return values.map((v) => {
        const b = el("button", "aex-pill", box, name(v));
        b.type = "button";
        b.dataset.value = String(v);
        b.addEventListener("click", (e) => this.switchTo(kind, v, e));
        return b;
      });
    };
    this.dirPills = this.dirs.length > 1 ? pills("Reading", "direction", this.dirs.map((d) => d.id), arrow) : [];
    this.layerPills = pills("Layer", "layer", ["mean", ...Array.from({length: this.L}, (_, i) => i)],
                            (v) => v === "mean" ? "mean" : String(v));
    this.headPills = pills("Head", "head", ["mean", "max", ...Array.from({length: this.H}, (_, i) => i)],
                           (v) => String(v));

    this.caption = el("div", "aex-caption", root);
    this.tokenBox = el("div", "aex-tokens", root);
    this.tokenBox.tabIndex = 0;
    this.chips = this.h.labels.map((label, q) => {
      const chip = el("button", "aex-chip", this.tokenBox);
      chip.type = "button";
      chip.dataset.q = String(q);
      el("span", "aex-word", chip, label);
      const bar = el("span", "aex-bar", chip);
      chip.bar = el("i", null, bar);
      chip.val = el("span", "aex-val", chip, "");
      this.hoverable(chip, () => ({q}), "tokens");
      return chip;
    });
    this.tokenBox.addEventListener("focus", () => { this.area = "tokens"; });

    const main = el("div", "aex-main", root);
    const left = el("div", "aex-left", main);
    this.picture = el("canvas", "aex-image", left);
    this.picture.tabIndex = 0;
    this.picture.addEventListener("focus", () => { this.area = "keys"; });
    this.heatCanvas = document.createElement("canvas");
    const legend = el("div", "aex-legend", left);
    this.legendLow = el("span", null, legend, "0");
    this.legendBar = el("canvas", "aex-legendbar", legend);
    this.legendHigh = el("span", null, legend, "");
    this.readout = el("div", "aex-readout", left);

    const right = el("div", "aex-right", main);
    this.matTitle = el("div", "aex-subtitle", right);
    const mat = el("div", "aex-matrix", right);
    this.rowH = Math.max(10, Math.min(22, Math.floor(300 / this.Q)));
    const labels = el("div", "aex-rowlabels", mat);
    this.rowLabels = this.h.labels.map((label, q) => {
      const r = el("div", "aex-rowlabel", labels, label);
      r.style.height = `${this.rowH}px`;
      r.dataset.q = String(q);
      this.hoverable(r, () => ({q}), "tokens");
      return r;
    });
    const wrap = el("div", "aex-matwrap", mat);
    wrap.style.height = `${this.rowH * this.Q}px`;
    this.matrix = el("canvas", "aex-matcanvas", wrap);
    this.matrix.width = this.K; this.matrix.height = this.Q * this.rowH;  // rows 1:1, columns scaled by CSS
    this.rowHL = el("div", "aex-rowhl", wrap);
    this.colHL = el("div", "aex-colhl", wrap);
    this.rowHL.style.height = `${this.rowH}px`;
    this.colHL.style.width = `max(2px, ${100 / this.K}%)`;
    this.hoverable(this.matrix, (e) => {
      const r = this.matrix.getBoundingClientRect();
      const k = Math.floor((e.clientX - r.left) / r.width * this.K), q = Math.floor((e.clientY - r.top) / r.height * this.Q);
      return {q: Math.max(0, Math.min(this.Q - 1, q)), k: Math.max(0, Math.min(this.K - 1, k))};
    }, "keys", true);
    this.hoverable(this.picture, (e) => {
      const k = this.keyAt(e);
      return k === null ? null : {k};
    }, "keys", true);
    this.buildSummary(main);

    this.headsTitle = el("div", "aex-subtitle aex-headstitle", root);
    this.headBox = el("div", "aex-heads", root);
    this.tiles = Array.from({length: this.H}, (_, h) => {
      const tile = el("button", "aex-tile", this.headBox);
      tile.type = "button";
      tile.dataset.h = String(h);
      tile.canvas = el("canvas", null, tile);
      if (this.grid) { tile.canvas.width = this.grid[1]; tile.canvas.height = this.grid[0]; }
      else { tile.canvas.width = this.K; tile.canvas.height = 1; tile.canvas.classList.add("aex-strip"); }
      tile.caption = el("span", null, tile, `head ${h}`);
      tile.addEventListener("click", (e) => this.switchTo("head", h, e));
      return tile;
    });
    root.addEventListener("keydown", (e) => this.onKey(e));
    this.sizeCanvases();
  }

  buildSummary(parent) {  // the layer x head grid: rows = layers, columns = heads, one colour scale per number
    const names = (this.h.summary || []).filter((name) => this.summary[name]);
    if (!names.length) return;
    const box = el("div", "aex-summary", parent);
    const top = el("div", "aex-summarytop", box);
    el("span", "aex-subtitle", top, "Every layer × head:");
    this.metricSelect = el("select", "aex-select", top);
    for (const name of names) el("option", null, this.metricSelect, METRICS[name]?.label ?? name).value = name;
    this.metric = names[0];
    this.metricSelect.addEventListener("change", () => { this.metric = this.metricSelect.value; this.paintSummary(); });
    this.metricNote = el("div", "aex-caption aex-summarynote", box);
    const body = el("div", "aex-summarybody", box);
    el("div", "aex-axis aex-axis-layer", body, "layer");
    const column = el("div", "aex-summarycol", body);
    el("div", "aex-axis aex-axis-head", column, "head");
    const grid = el("div", "aex-sgrid", column);
    grid.style.gridTemplateColumns = `auto repeat(${this.H}, var(--aex-cell))`;
    el("span", null, grid);  // the corner
    this.headLabels = Array.from({length: this.H}, (_, h) => el("span", "aex-slabel aex-shead", grid, String(h)));
    this.layerLabels = [];
    this.cells = [];
    for (let l = 0; l < this.L; l++) {
      this.layerLabels.push(el("span", "aex-slabel aex-slayer", grid, String(l)));
      for (let h = 0; h < this.H; h++) {
        const cell = el("div", "aex-cell", grid);
        cell.dataset.l = String(l); cell.dataset.h = String(h);
        cell.addEventListener("pointerenter", (e) => {
          this.preview = {layer: l, head: h};
          this.schedule("hover", e.timeStamp);
        });
        cell.addEventListener("pointerleave", (e) => {
          if (this.preview && this.preview.layer === l && this.preview.head === h) this.preview = null;
          this.schedule("hover", e.timeStamp);
        });
        cell.addEventListener("click", (e) => {  // show this head and pin it, as a pin does
          this.layer = l; this.head = h;
          this.viewDirty = true;
          this.schedule("switch", e.timeStamp);
          this.send();
        });
        this.cells.push(cell);
      }
    }
    this.summaryGrid = grid;
    this.summaryNames = names;
    const legend = el("div", "aex-legend", box);
    this.summaryLow = el("span", null, legend, "");
    const bar = el("canvas", "aex-legendbar aex-summarybar", legend);
    bar.width = 256; bar.height = 1;
    const ctx = bar.getContext("2d"), img = ctx.createImageData(256, 1);
    for (let i = 0; i < 256; i++) {
      img.data[4 * i] = LUT[3 * i]; img.data[4 * i + 1] = LUT[3 * i + 1]; img.data[4 * i + 2] = LUT[3 * i + 2];
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    this.summaryHigh = el("span", null, legend, "");
    this.summaryReadout = el("div", "aex-readout aex-summaryreadout", box, "");
  }

  metricText(name) {  // one line: what the grid's number means (of the shown direction's queries)
    let keys = this.grid ? "patches" : "keys", key = this.grid ? "patch" : "key", n = this.K;
    const one = this.Q === 1;
    let whose = one ? `“${this.h.labels[0]}”` : "each token", avg = one ? "" : ", averaged over the tokens";
    if (this.reversed) {  // the patches ask, the words answer
      keys = "words"; key = "word"; n = this.Q; whose = "each patch"; avg = ", averaged over the patches";
    }
    if (name === "entropy") return `Entropy: how spread the weights of ${whose} are over the ${keys}, in bits ` +
      `(0 = all on one ${key}, ${Math.log2(n).toFixed(1)} = even)${avg}.`;
    if (name === "spread" && this.reversed) return `Mean distance: how far apart, in tokens along the text, the ` +
      `words that ${whose} looks at lie from the weighted centre of its attention (0 = one word)${avg}.`;
    if (name === "mass" && this.reversed) return `Cross-modal mass: the share of the attention of ${whose} that ` +
      `lands on the words at all (1 = all of it; the rest stays in the image)${avg}.`;
    if (name === "spread") return `Mean distance: how far, in ${keys}, the ${keys} that ${whose} looks at lie ` +
      `from the weighted centre of its attention (0 = one spot)${avg}.`;
    if (name === "mass") return `Cross-modal mass: the share of the attention of ${whose} that lands on these ` +
      `${keys} at all (1 = all of it; the rest goes to keys not drawn here, such as CLS or text)${avg}.`;
    return name;
  }

  summaryValue(l, h) {
    return this.summary[this.metric][l * this.H + h];
  }

  formatSummary(v) {
    const m = METRICS[this.metric] || {unit: "", digits: 3};
    return `${v.toFixed(m.digits)}${m.unit}`;
  }

  paintSummary() {  // colours for the chosen number: one fixed scale, the grid's min to max
    if (!this.cells) return;
    const values = this.summary[this.metric];
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    const span = hi - lo > 1e-9 * Math.max(1, Math.abs(hi)) ? hi - lo : 0;
    this.cells.forEach((cell, i) => {
      for (const name of this.summaryNames) cell.dataset[name] = String(this.summary[name][i]);
      const v = values[i], t = span ? (v - lo) / span : 0.5, c = 3 * Math.round(Math.min(1, Math.max(0, t)) * 255);
      cell.style.background = `rgb(${LUT[c]},${LUT[c + 1]},${LUT[c + 2]})`;
      cell.dataset.value = String(v);
      cell.title = `layer ${cell.dataset.l} · head ${cell.dataset.h}: ${this.formatSummary(v)}`;
    });
    this.summaryGrid.dataset.metric = this.metric;
    this.summaryGrid.dataset.low = String(lo); this.summaryGrid.dataset.high = String(hi);
    this.summaryLow.textContent = this.formatSummary(lo);
    this.summaryHigh.textContent = this.formatSummary(hi);
    this.metricNote.textContent = this.metricText(this.metric) + " Hover a cell for its map; click to show and pin it.";
    this.shownCells = null;  // repaint the outlines and the readout
    this.schedule("load");
  }

  sizeCanvases() {
    const dpr = window.devicePixelRatio || 1;
    if (this.grid) {
      const [rows, cols] = this.grid;
      const w = 320, hgt = Math.round(w * rows / cols);
      this.cssW = w; this.cssH = hgt;
      this.heatCanvas.width = cols; this.heatCanvas.height = rows;
    } else {
      this.cssW = 640; this.cssH = 56;
      this.heatCanvas.width = this.K; this.heatCanvas.height = 1;
      this.picture.classList.add("aex-strip");
    }
    this.picture.style.width = `${this.cssW}px`; this.picture.style.height = `${this.cssH}px`;
    this.picture.width = Math.round(this.cssW * dpr); this.picture.height = Math.round(this.cssH * dpr);
    this.legendBar.width = 256; this.legendBar.height = 1;
    const ctx = this.legendBar.getContext("2d"), img = ctx.createImageData(256, 1);
    for (let i = 0; i < 256; i++) {
      img.data[4 * i] = LUT[3 * i]; img.data[4 * i + 1] = LUT[3 * i + 1]; img.data[4 * i + 2] = LUT[3 * i + 2];
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  keyAt(e) {
    const r = this.picture.getBoundingClientRect();
    const x = (e.clientX - r.left) / r.width, y = (e.clientY - r.top) / r.height;
    if (x < 0 || x >= 1 || y < 0 || y >= 1) return null;
    if (!this.grid) return Math.floor(x * this.K);
    return Math.floor(y * this.grid[0]) * this.grid[1] + Math.floor(x * this.grid[1]);
  }

  hoverable(node, where, area, moves = false) {
    const enter = (e) => {
      const at = where(e);
      if (!at) return;
      this.area = area;
      let changed = false;
      if (at.q !== undefined && at.q !== this.hoverQ) { this.hoverQ = at.q; changed = true; }
      if (at.k !== undefined && at.k !== this.hoverK) { this.hoverK = at.k; changed = true; }
      if (changed) this.schedule("hover", e.timeStamp);
    };
    node.addEventListener(moves ? "pointermove" : "pointerenter", enter);
    if (moves) node.addEventListener("pointerenter", enter);
    node.addEventListener("pointerleave", (e) => {
      const at = where(e) || {};
      if (node === this.picture || node === this.matrix) { this.hoverK = null; }
      if (node !== this.picture) this.hoverQ = null;
      void at;
      this.schedule("hover", e.timeStamp);
    });
    node.addEventListener("click", (e) => {  // a click, or a tap on a touch screen: pin what is under it
      const at = where(e);
      if (!at) return;
      if (at.q !== undefined) this.pinQ = at.q;
      if (at.k !== undefined) this.pinK = at.k;
      this.schedule("hover", e.timeStamp);
      this.send();
    });
  }

  switchTo(kind, value, e) {
    if (kind === "direction") {
      if (value === this.dirs[this.dir].id) return;
      this.useDirection(value);
      this.preview = null;
      this.paintSummary();
    } else if (kind === "layer") this.layer = value; else this.head = value;
    this.viewDirty = true;
    this.schedule("switch", e ? e.timeStamp : performance.now());
  }

  onKey(e) {
    const keys = this.area === "keys";
    const cols = this.grid ? this.grid[1] : this.K;
    let handled = true;
    if (e.key === "Enter" || e.key === " ") { this.send(); }
    else if (!keys && (e.key === "ArrowRight" || e.key === "ArrowDown")) this.pinQ = Math.min(this.Q - 1, this.pinQ + 1);
    else if (!keys && (e.key === "ArrowLeft" || e.key === "ArrowUp")) this.pinQ = Math.max(0, this.pinQ - 1);
    else if (keys && e.key.startsWith("Arrow")) {
      const k = this.pinK ?? 0;
      const step = {ArrowRight: 1, ArrowLeft: -1, ArrowDown: this.grid ? cols : 1, ArrowUp: this.grid ? -cols : -1}[e.key];
      this.pinK = Math.max(0, Math.min(this.K - 1, k + step));
    } else handled = false;
    if (handled) {
      e.preventDefault();
      this.hoverQ = null; this.hoverK = null;  // the keyboard's selection shows, not the pointer's
      this.schedule("hover", e.timeStamp);
    }
  }

  send() {
    const sel = {layer: this.layer, head: this.head, query: this.pinQ, key: this.pinK};
    if (this.dirs.length > 1) sel.direction = this.dirs[this.dir].id;
    this.root.dataset.sent = JSON.stringify(sel);
    if (this.setStateValue) this.setStateValue("selection", sel);
  }

  // ---- painting ---------------------------------------------------------------------------------------------
  schedule(kind, t0) {
    this.pending.push({kind, t0: t0 ?? performance.now()});
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const events = this.pending;
      this.pending = [];
      const w0 = performance.now();
      this.paint();
      this.timings.work.push(performance.now() - w0);
      setTimeout(() => {  // the frame painted above is on screen by now
        const t1 = performance.now();
        for (const {kind, t0} of events) if (kind !== "load") this.timings[kind].push(t1 - t0);
      }, 0);
    });
  }

  paint() {
    const q = this.hoverQ ?? this.pinQ, k = this.hoverK ?? this.pinK;
    if (this.viewDirty) { this.paintControls(); this.viewDirty = false; }
    const shown = this.preview ?? {layer: this.layer, head: this.head};
    const id = `${this.dir}|${shown.layer}|${shown.head}`;
    if (id !== this.shownView) { this.paintMatrix(shown); this.shownView = id; }
    this.paintCells();
    const {m, max} = this.current;
    const K = this.K, row = m.subarray(q * K, (q + 1) * K);
    this.paintPicture(row, max, k);
    // matrix highlights
    this.rowHL.style.transform = `translateY(${q * this.rowH}px)`;
    this.colHL.style.display = k === null ? "none" : "block";
    if (k !== null) this.colHL.style.left = `${(k / K) * 100}%`;
    this.rowLabels.forEach((r, i) => r.classList.toggle("on", i === q));
    // token chips: the hovered/pinned token, and bars of how much each token looked at key k
    // bar length: against the token that looked at key k most (who looked here?); colour: the view's fixed scale
    let colMax = 0;
    if (k !== null) for (let i = 0; i < this.Q; i++) colMax = Math.max(colMax, m[i * K + k]);
    this.chips.forEach((chip, i) => {
      chip.classList.toggle("on", i === q);
      chip.classList.toggle("pinned", i === this.pinQ);
      if (k === null) { chip.bar.style.width = "0"; chip.val.textContent = ""; chip.dataset.value = ""; return; }
      const v = m[i * K + k], t = Math.min(1, v / max), c = 3 * Math.round(t * 255);
      chip.bar.style.width = `${(colMax > 0 ? v / colMax * 100 : 0).toFixed(1)}%`;
      chip.bar.style.background = `rgb(${LUT[c]},${LUT[c + 1]},${LUT[c + 2]})`;
      chip.val.textContent = String(Number(v.toPrecision(2)));
      chip.dataset.value = v.toFixed(5);
    });
    this.paintTiles(q);
    // readout and state for tests and the benchmark
    let arg = 0;
    for (let i = 1; i < K; i++) if (row[i] > row[arg]) arg = i;
    const where = (key) => this.grid ? `patch (${Math.floor(key / this.grid[1])}, ${key % this.grid[1]})` : `key ${key}`;
    if (!this.reversed) {
      this.readout.textContent = `“${this.h.labels[q]}” looked most at ${where(arg)}: ${row[arg].toFixed(3)}` +
        (k === null ? "" : ` · ${where(k)}: ${row[k].toFixed(3)}`);
    } else {  // row: how much each patch looked at word q; column k: patch k's own attention over the words
      let best = 0;
      if (k !== null) for (let i = 1; i < this.Q; i++) if (m[i * K + k] > m[best * K + k]) best = i;
      this.readout.textContent = `The patch that looked most at “${this.h.labels[q]}”: ${where(arg)}: ` +
        `${row[arg].toFixed(3)}` + (k === null ? " · hover a patch for the words it looked at" :
          ` · ${where(k)} looked most at “${this.h.labels[best]}”: ${m[best * K + k].toFixed(3)}`);
    }
    const name = (v, kind) => v === "mean" ? `mean over ${kind}s` : v === "max" ? `max over ${kind}s` : `${kind} ${v}`;
    const pinned = `token “${this.h.labels[this.pinQ]}”` + (this.pinK === null ? "" : ` · ${where(this.pinK)}`);
    const previewing = this.preview ? ` · previewing layer ${this.preview.layer} · head ${this.preview.head}` : "";
    const direction = this.dirs.length > 1 ? `${arrow(this.dirs[this.dir].id)} · ` : "";
    this.status.textContent = `${direction}${name(this.layer, "layer")} · ${name(this.head, "head")} · ` +
      `pinned: ${pinned}` + previewing;
    const d = this.root.dataset;
    d.layer = String(this.layer); d.head = String(this.head);
    d.direction = this.dirs[this.dir].id ?? "";
    d.previewLayer = this.preview ? String(this.preview.layer) : "";
    d.previewHead = this.preview ? String(this.preview.head) : "";
    d.query = String(q); d.key = k === null ? "" : String(k);
    d.hoveredToken = this.hoverQ === null ? "" : String(this.hoverQ);
    d.hoveredPatch = this.hoverK === null ? "" : String(this.hoverK);
    d.pinnedQuery = String(this.pinQ); d.pinnedKey = this.pinK === null ? "" : String(this.pinK);
    d.heatArgmax = String(arg); d.viewMax = max.toPrecision(6);
    d.paints = String(++this.paints);
  }

  paintControls() {  // the pills and the head tiles follow the chosen layer and head (not a grid preview)
    this.dirPills.forEach((b) => b.classList.toggle("on", b.dataset.value === String(this.dirs[this.dir].id)));
    if (!this.reversed) {
      this.caption.textContent = "Hover a word for where it looked; hover the picture or a matrix column for who " +
        "looked there (bars: against the word that looked there most). " +
        "Click (or tap) to pin; arrow keys move; Enter pins.";
      this.matTitle.textContent = this.grid ? "token × patch (reading order)" : "token × key";
    } else {
      this.caption.textContent = "Now each patch asks. Hover the picture or a matrix column: the bars show how " +
        "much that patch looked at each word (its own attention row; bars against the word it looked at most). " +
        "Hover a word: the picture shows how much each patch looked at it. " +
        "Click (or tap) to pin; arrow keys move; Enter pins.";
      this.matTitle.textContent = "word × patch (reading order): a column is one patch's attention over the words";
    }    this.layerPills.forEach((b) => b.classList.toggle("on", b.dataset.value === String(this.layer)));
    this.headPills.forEach((b) => b.classList.toggle("on", b.dataset.value === String(this.head)));
    this.tileMaps = this.layerHeads(this.layer);
    this.tileMax = this.tileMaps.map((a) => { let x = 0; for (let i = 0; i < a.length; i++) if (a[i] > x) x = a[i]; return x || 1; });
  }

  paintCells() {  // the grid's outlines: the chosen head (and its layer row / head column), the previewed cell
    if (!this.cells) return;
    const p = this.preview, key = `${this.layer}|${this.head}|${p ? p.layer + "|" + p.head : ""}`;
    if (key === this.shownCells) return;
    this.shownCells = key;
    this.cells.forEach((cell, i) => {
      const l = Math.floor(i / this.H), h = i % this.H;
      cell.classList.toggle("on", l === this.layer && h === this.head);
      cell.classList.toggle("preview", !!p && l === p.layer && h === p.head);
    });
    this.layerLabels.forEach((n, l) => n.classList.toggle("on", l === this.layer));
    this.headLabels.forEach((n, h) => n.classList.toggle("on", h === this.head));
    const single = typeof this.layer === "number" && typeof this.head === "number";
    const at = p ?? (single ? {layer: this.layer, head: this.head} : null);
    this.summaryReadout.textContent = at ? `layer ${at.layer} · head ${at.head}: ` +
      `${METRICS[this.metric]?.label ?? this.metric} ${this.formatSummary(this.summaryValue(at.layer, at.head))}` : "";
  }

  paintMatrix(shown) {  // the token x key matrix of the shown view: the chosen one, or a grid cell's preview
    this.current = this.viewMap(shown.layer, shown.head);
    const {m, max} = this.current;
    const K = this.K, ctx = this.matrix.getContext("2d"), img = ctx.createImageData(K, this.Q * this.rowH);
    const px = new Uint32Array(img.data.buffer), line = new Uint32Array(K);
    const rgba = new Uint8Array(line.buffer);
    for (let q = 0; q < this.Q; q++) {
      for (let k = 0; k < K; k++) {
        const c = 3 * Math.round(Math.min(1, m[q * K + k] / max) * 255);
        rgba[4 * k] = LUT[c]; rgba[4 * k + 1] = LUT[c + 1]; rgba[4 * k + 2] = LUT[c + 2]; rgba[4 * k + 3] = 255;
      }
      for (let r = 0; r < this.rowH; r++) px.set(line, (q * this.rowH + r) * K);
    }
    ctx.putImageData(img, 0, 0);
    this.legendHigh.textContent = max.toFixed(3);
  }

  paintPicture(row, max, k) {
    const hc = this.heatCanvas, hctx = hc.getContext("2d"), img = hctx.createImageData(hc.width, hc.height);
    const [a0, a1] = this.image ? HEAT_ALPHA : [1, 1];
    for (let i = 0; i < row.length; i++) {
      const t = Math.min(1, row[i] / max), c = 3 * Math.round(t * 255);
      img.data[4 * i] = LUT[c]; img.data[4 * i + 1] = LUT[c + 1]; img.data[4 * i + 2] = LUT[c + 2];
      img.data[4 * i + 3] = Math.round(255 * (a0 + (a1 - a0) * t));
    }
    hctx.putImageData(img, 0, 0);
    const ctx = this.picture.getContext("2d"), W = this.picture.width, H = this.picture.height;
    ctx.imageSmoothingEnabled = false;
    ctx.globalAlpha = 1;
    if (this.image) ctx.drawImage(this.image, 0, 0, W, H);
    else { ctx.fillStyle = "#20232a"; ctx.fillRect(0, 0, W, H); }
    ctx.drawImage(hc, 0, 0, W, H);
    const box = (key, color, dash) => {
      if (key === null || key === undefined) return;
      const cols = this.grid ? this.grid[1] : this.K, rows = this.grid ? this.grid[0] : 1;
      const cw = W / cols, ch = H / rows, x = (key % cols) * cw, y = Math.floor(key / cols) * ch;
      const lw = Math.max(2, Math.round((window.devicePixelRatio || 1) * 2));
      ctx.lineWidth = lw; ctx.strokeStyle = color; ctx.setLineDash(dash);
      ctx.strokeRect(x + lw / 2, y + lw / 2, Math.max(cw - lw, 1), Math.max(ch - lw, 1));
      ctx.setLineDash([]);
    };
    if (this.pinK !== null && this.pinK !== k) box(this.pinK, "#ffffff", [4, 3]);
    box(k, OUTLINE, []);
  }

  paintTiles(q) {
    const K = this.K, scores = [];
    this.tiles.forEach((tile, h) => {
      const a = this.tileMaps[h], max = this.tileMax[h];
      const ctx = tile.canvas.getContext("2d"), img = ctx.createImageData(tile.canvas.width, tile.canvas.height);
      let sum = 0;
      for (let i = 0; i < K; i++) sum += a[q * K + i];
      let entropy = 0;
      for (let i = 0; i < K; i++) {
        const v = a[q * K + i], c = 3 * Math.round(Math.min(1, v / max) * 255);
        img.data[4 * i] = LUT[c]; img.data[4 * i + 1] = LUT[c + 1]; img.data[4 * i + 2] = LUT[c + 2];
        img.data[4 * i + 3] = 255;
        if (v > 0 && sum > 0) { const p = v / sum; entropy -= p * Math.log2(p); }
      }
      ctx.putImageData(img, 0, 0);
      tile.caption.textContent = `head ${h} · ${entropy.toFixed(2)} bits`;
      tile.dataset.entropy = entropy.toFixed(4);
      tile.classList.toggle("on", this.head === h);
      scores.push([entropy, h]);
    });
    scores.sort((x, y) => x[0] - y[0]);
    scores.forEach(([, h], rank) => { this.tiles[h].style.order = String(rank); });
    const layer = this.layer === "mean" ? "the mean over layers" : `layer ${this.layer}`;
    this.headsTitle.textContent = this.reversed ?
      `Every head of ${layer}: how much each patch looked at “${this.h.labels[q]}”, most concentrated first ` +
      `(entropy of those weights, renormalised over the patches; click a head to show it)` :
      `Every head of ${layer} for “${this.h.labels[q]}”, most focused first ` +
      `(entropy of its weights over the ${this.grid ? "patches" : "keys"}; click a head to show it)`;
  }
}

export default function (component) {
  const {data, parentElement, setStateValue} = component;
  const bytes = bytesOf(data);
  if (!bytes) return;
  const payload = parse(bytes);
  let root = parentElement.querySelector(".aex");
  if (!root) root = el("div", "aex", parentElement);
  let explorer = root.__explorer;
  if (!explorer) {
    explorer = new Explorer(root, payload);
    root.__explorer = explorer;
  } else if (explorer.h.digest !== payload.header.digest) {  // another result: start over
    explorer.load(payload);
  } else if (JSON.stringify(explorer.h.selected || {}) !== JSON.stringify(payload.header.selected || {})) {
    explorer.h.selected = payload.header.selected;  // the same result, a new view from Python (a link, a preset)
    explorer.applySelected(payload.header.selected);
  }  // else: the same payload again (the rerun after a pin): keep the explorer as it is
  explorer.setStateValue = setStateValue;
  root.dataset.name = payload.header.name || "";
  window.__aex = window.__aex || {};
  window.__aex[payload.header.name || "explorer"] = explorer;
}
