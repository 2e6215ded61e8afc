// The attention canvas: one attention call (every head of one kind and layer) painted in the
// browser. Head, stage and the mean of heads switch here, hover shows exact values, a click
// derives the cell: no Streamlit rerun for any of it. The payload (viz/canvas.py) is one
// Uint8Array: a JSON header (tokens, labels, scale) and float32 q, k, v (+ bias), uint8 allowed;
// every stage is computed here from them, the same equation the model ran:
//   scores = q·kᵀ, scaled = scores × scale, biased = scaled + bias,
//   masked = biased where allowed else −∞, weights = softmax(masked), z_i = Σ_j α_ij v_j.
// Token text is only ever set with textContent: a token that carries markup shows literally.
//
// Streamlit calls this function again, on the same DOM, whenever the payload changes (a new
// text, layer or language); listeners are bound once, on the first call (see `bindOnce`).

const VISIBLE = { " ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍" };
const UNKNOWN = 1, SPECIAL = 2, GENERATED = 4, PADDING = 8;
const MASK_RGB = [150, 150, 150], STRIPE_RGB = [205, 205, 205];
const SIGNED = new Set(["scores", "scaled", "biased", "masked", "change"]);
// Stages pooled by their largest value (a weight, the mask); the signed ones by their mean.
const POOL_MAX = new Set(["weights", "mask", "before"]);
const MAX_CELL_PX = 36;          // a short matrix's cells stop growing here
const MIN_ZOOM_CELLS = 4;        // zooming in stops at this many cells across

// ---- the payload --------------------------------------------------------------------------

function readPayload(bytes) {
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== "AEC1") throw new Error("not an attention canvas payload");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  const start = Math.ceil((8 + length) / 8) * 8;
  // A typed view needs its offset aligned in the underlying buffer: copy once if it is not.
  let buffer = bytes.buffer, base = bytes.byteOffset + start;
  if (base % 8 !== 0) {
    const copy = bytes.slice(start);
    buffer = copy.buffer; base = 0;
  }
  const arrays = {};
  for (const place of header.arrays) {
    const count = place.shape.reduce((a, b) => a * b, 1);
    const Type = place.dtype === "float32" ? Float32Array : Uint8Array;
    arrays[place.name] = new Type(buffer, base + place.offset, count);
  }
  return { header, arrays };
}

// ---- the numbers ------------------------------------------------------------------------------

// Per head, computed when first shown: scores [rows*cols] (float64 sums stored as float32, as
// the model's float32 matmul), and weights. Everything else is one multiply-add away.
// Comparing two runs (Intervene), `before` holds the first run's numbers and three more stages
// exist: "before" (its weights), "weights" (the second run's) and "change" (after − before).
class Numbers {
  constructor(header, arrays, before) {
    this.h = header; this.a = arrays; this.before = before || null;
    this.R = header.rows; this.C = header.cols; this.D = header.d_head; this.H = header.heads;
    this.scoreCache = new Map(); this.weightCache = new Map(); this.meanCache = new Map();
  }
  allowed(i, j) { return this.a.allowed[i * this.C + j] !== 0; }
  bias(head, i, j) { return this.a.bias ? this.a.bias[(head * this.R + i) * this.C + j] : 0; }
  scores(head) {
    let out = this.scoreCache.get(head);
    if (out) return out;
    const { R, C, D } = this, q = this.a.q, k = this.a.k;
    out = new Float32Array(R * C);
    const qb = head * R * D, kb = head * C * D;
    for (let i = 0; i < R; i++) {
      const qi = qb + i * D;
      for (let j = 0; j < C; j++) {
        const kj = kb + j * D;
        let s = 0;
        for (let d = 0; d < D; d++) s += q[qi + d] * k[kj + d];
        out[i * C + j] = s;
      }
    }
    this.scoreCache.set(head, out);
    return out;
  }
  logit(head, i, j) {   // scaled + bias, before the mask
    return this.scores(head)[i * this.C + j] * this.h.scale + this.bias(head, i, j);
  }
  weights(head) {
    let out = this.weightCache.get(head);
    if (out) return out;
    const { R, C } = this, s = this.scores(head), scale = this.h.scale, allowed = this.a.allowed;
    const bias = this.a.bias, off = head * R * C;
    out = new Float32Array(R * C);
    const row = new Float64Array(C);
    for (let i = 0; i < R; i++) {   // per row: only its allowed cells, no per-cell method calls
      const base = i * C;
      let max = -Infinity;
      for (let j = 0; j < C; j++) {
        if (allowed[base + j] === 0) continue;
        const v = s[base + j] * scale + (bias ? bias[off + base + j] : 0);
        row[j] = v;
        if (v > max) max = v;
      }
      if (max === -Infinity) continue;      // a row with no key: weight 0 everywhere
      let total = 0;
      for (let j = 0; j < C; j++) if (allowed[base + j] !== 0) { const e = Math.exp(row[j] - max); row[j] = e; total += e; }
      for (let j = 0; j < C; j++) if (allowed[base + j] !== 0) out[base + j] = row[j] / total;
    }
    this.weightCache.set(head, out);
    return out;
  }
  // The whole [rows*cols] matrix of one stage for a head or the mean of heads.
  matrix(head, stage) {
    // ready-made matrices (Aggregates): NaN where masked, one per button
    if (this.h.mode === "matrices") return this.a.m.subarray(head * this.R * this.C, (head + 1) * this.R * this.C);
    if (head === "mean") return this.mean(stage);
    if (stage === "before") return this.before.matrix(head, "weights");
    if (stage === "change") return this.change(head);
    const { R, C } = this, out = new Float32Array(R * C);
    if (stage === "weights") {
      const w = this.weights(head);
      for (let x = 0; x < R * C; x++) out[x] = this.a.allowed[x] ? w[x] : NaN;
      return out;
    }
    const s = this.scores(head), scale = this.h.scale, bias = this.a.bias, off = head * R * C;
    for (let x = 0; x < R * C; x++) {
      const ok = this.a.allowed[x] !== 0;
      let v;
      if (stage === "scores") v = s[x];
      else if (stage === "scaled") v = s[x] * scale;
      else if (stage === "mask") v = ok ? 1 : NaN;
      else v = s[x] * scale + (bias ? bias[off + x] : 0);
      out[x] = stage === "masked" && !ok ? NaN : v;
    }
    return out;
  }
  change(head) {   // α after − α before; NaN where neither run lets the query see the key
    const a = this.weights(head), b = this.before.weights(head), n = this.R * this.C, out = new Float32Array(n);
    for (let x = 0; x < n; x++) out[x] = this.a.allowed[x] || this.before.a.allowed[x] ? a[x] - b[x] : NaN;
    return out;
  }
  mean(stage) {   // the mean over heads, masked cells left masked (as viz.stages.head_matrix)
    let out = this.meanCache.get(stage);
    if (out) return out;
    const n = this.R * this.C;
    out = new Float32Array(n);
    const seen = new Uint8Array(n);    // a cell masked in every head stays masked
    for (let h = 0; h < this.H; h++) {
      const m = this.matrix(h, stage);
      for (let x = 0; x < n; x++) if (!Number.isNaN(m[x])) { out[x] += m[x] / this.H; seen[x] = 1; }
    }
    for (let x = 0; x < n; x++) if (!seen[x]) out[x] = NaN;
    this.meanCache.set(stage, out);
    return out;
  }
}

// ---- formatting ---------------------------------------------------------------------------------

function fmt(x, digits = 4) {
  if (x === -Infinity) return "−∞";
  if (Number.isNaN(x)) return "—";
  if (x === 0) return "0";
  const a = Math.abs(x);
  // very small or large: mantissa and exponent, so a column of numbers keeps its width
  const s = a < 1e-3 || a >= 1e6 ? Number(x).toExponential(digits - 1) : String(parseFloat(Number(x).toPrecision(digits)));
  return s.replace("-", "−").replace("e−", "e-");
}
function shown(token) { return VISIBLE[token] !== undefined ? VISIBLE[token] : token; }
function tokenClass(flags) {
  const c = [];
  if (flags & UNKNOWN) c.push("unknown");
  if (flags & SPECIAL) c.push("special");
  if (flags & GENERATED) c.push("generated");
  if (flags & PADDING) c.push("padding");
  return c.join(" ");
}
function labelText(token, flags) { return shown(token) + (flags & UNKNOWN ? "?" : ""); }
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;   // text only, never HTML
  return e;
}
function template(s, values) { return String(s).replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m)); }
// English ordinals: 2nd, 3rd, 11th, 21st (the Chinese text writes the bare number)
function ordinal(n) {
  const tens = n % 100, ones = n % 10;
  return `${n}${tens >= 11 && tens <= 13 ? "th" : ["th", "st", "nd", "rd"][ones] || "th"}`;
}
function isMatrices(h) { return h.mode === "matrices"; }
function niceStep(n) {
  const steps = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000];
  return steps.find((s) => s >= n) || Math.ceil(n);
}

// ---- the component ----------------------------------------------------------------------------

export default function (component) {
  const { parentElement, data, setStateValue } = component;
  const root = parentElement.querySelector(".aec");
  let ui = root.__aec;
  if (!ui) { ui = bindOnce(root); root.__aec = ui; }
  ui.setState = setStateValue;
  if (data instanceof Uint8Array || (data && data.buffer)) ui.load(readPayload(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
}

function bindOnce(root) {
  const q = (s) => root.querySelector(s);
  const matrixCanvas = q(".aec-matrix"), overlay = q(".aec-overlay"), stack = q(".aec-stack"), tip = q(".aec-stack > .aec-tip");   // not .aec-ov-tip (also .aec-tip)
  const ylabels = q(".aec-ylabels"), xlabels = q(".aec-xlabels"), deriv = q(".aec-derivation");
  const ui = { n: null, h: null, head: 0, stage: "weights", cell: null, sel: null, open: false,
               view: null, W: 0, Hpx: 0, paints: 0, hover: null, drag: null };
  root.dataset.paint = "0";

  const t = (key, values) => template((ui.h && ui.h.text[key]) || key, values || {});
  const valueName = () => (isMatrices(ui.h) ? ui.h.values[ui.head] : t(`short.${ui.stage}`));

  // -- Telling the server. A choice made here is painted at once and written into the address
  //    bar (a copied link reopens it). Python hears of it as the canvas's "choice" state, sent
  //    once the person has paused for the payload's sync_ms after the last choice (ui/canvas.py): every setStateValue is a
  //    full rerun, which a head, a stage or a cell must not cost while someone looks around.
  //    (Sending it on the next click elsewhere raced that click's own rerun: a click on the page
  //    list was lost.) The server also takes a pending choice at the start of any run
  //    (ui/canvas.take_choices).
  function changed() {
    ui.dirty = true;
    writeUrl();
    window.clearTimeout(ui.syncTimer);
    ui.syncTimer = window.setTimeout(() => {
      if (!ui.dirty || !root.isConnected || !ui.setState) return;
      ui.dirty = false;
      sendWhenIdle(() => choice());
    }, ui.h && ui.h.sync_ms !== undefined ? ui.h.sync_ms : 2000);
  }
  // A state sent while Streamlit runs the script interrupts that run and starts another with
  // the widget states the browser had before it: the canvas sends once no run has been shown
  // for IDLE_MS. (A radio emptied after a click on 中文 was this and more: ui/context.py
  // keep_widget_values.)
  const IDLE_MS = 600;
  function whenIdle(action, quietSince) {
    const now = performance.now();
    if (document.querySelector('[data-testid="stStatusWidget"]')) quietSince = undefined;
    else if (quietSince === undefined) quietSince = now;
    if (quietSince === undefined || now - quietSince < IDLE_MS) {
      window.setTimeout(() => whenIdle(action, quietSince), 150);
      return;
    }
    action();
  }
  function sendWhenIdle(value) {
    window.clearTimeout(ui.sendTimer);
    whenIdle(() => { if (root.isConnected && ui.setState) ui.setState("choice", value()); });
  }
  function choice() {
    const open = ui.open && ui.cell;
    const stage = ui.h.stage_in_view === false ? null : ui.stage;    // a comparison's view is its own
    const head = ui.h.head_in_view === false ? null : ui.head;        // Aggregates' matrix is its own
    if (ui.h.cell_in_view === false) return { head, stage };          // Generation's step: its own cell
    return { head, stage, query: open ? ui.cell[0] : null, key: open ? ui.cell[1] : null };
  }

  function writeUrl() {
    // Written as ui/state.to_query writes them: a default (head 0, the weights, cell 0, 0) is
    // left out, or the server's next address would differ and the browser would gain a history
    // entry (Back would then stay on the page).
    if (ui.h.standalone) return;      // a page of its own (ui/canvas_export.py): no view to keep
    const url = new URL(window.location.href);
    const put = (name, value, fallback) => (value === fallback ? url.searchParams.delete(name) : url.searchParams.set(name, value));
    if (ui.h.head_in_view !== false) put("head", String(ui.head), "0");
    if (ui.h.stage_in_view !== false) put("stage", ui.stage, "weights");
    if (ui.h.cell_in_view === false) {
      // this picture's own cell: the address bar keeps the view's
    } else if (ui.open && ui.cell && (ui.cell[0] !== 0 || ui.cell[1] !== 0)) {
      url.searchParams.set("query", String(ui.cell[0]));
      url.searchParams.set("key", String(ui.cell[1]));
    } else {
      url.searchParams.delete("query");
      url.searchParams.delete("key");
    }
    if (url.href !== window.location.href) window.history.replaceState(window.history.state, "", url.href);
  }

  // -- layout ---------------------------------------------------------------------------------
  function layout() {
    const h = ui.h, R = h.rows, C = h.cols;
    const font = h.lecture ? 20 : 13;
    // Every label is measured (past the 1,000th a label has a 4-digit position: measuring only the
    // first 400 left "␣hello 1500" wider than its box, cut), on a 2D context: a DOM probe's
    // offsetWidth forced one layout per label (~65 ms for 800 of them at 2,048 tokens).
    const measure = document.createElement("canvas").getContext("2d");
    measure.font = `${font}px ${getComputedStyle(root).fontFamily}`;
    const widest = (tokens, flags) => {
      let w = 0;
      for (let i = 0; i < tokens.length; i++) w = Math.max(w, measure.measureText(labelText(tokens[i], flags[i]) + ` ${i}`).width);
      return Math.min(Math.ceil(w) + 10, h.lecture ? 220 : 170);
    };
    const yw = widest(h.query_tokens, ui.n.a.query_flags), xh = widest(h.key_tokens, ui.n.a.key_flags);
    const total = root.clientWidth || 900;
    const derivWidth = total > 1100 ? 400 : 0;          // beside the matrix on a wide page
    const room = Math.max(220, total - yw - 40 - 110 - derivWidth - 24);
    const maxH = Math.max(240, Math.round(window.innerHeight * (h.lecture ? 0.62 : 0.7)));
    let cell = Math.min(MAX_CELL_PX, room / C, maxH / R);
    ui.W = Math.max(40, Math.round(cell * C)); ui.Hpx = Math.max(40, Math.round(cell * R));
    if (cell < 1) {    // a long input: the matrix takes the room it has, cells pooled to pixels
      ui.W = Math.round(Math.min(room, maxH * C / R)); ui.Hpx = Math.round(Math.min(maxH, ui.W * R / C));
    }
    const plot = q(".aec-plot");
    plot.style.gridTemplateColumns = `auto ${yw}px ${ui.W}px auto`;
    plot.style.gridTemplateRows = `${ui.Hpx}px ${xh}px auto`;
    plot.style.fontSize = `${font}px`;
    for (const c of [matrixCanvas, overlay]) { c.width = ui.W; c.height = ui.Hpx; c.style.width = `${ui.W}px`; c.style.height = `${ui.Hpx}px`; }
    stack.style.width = `${ui.W}px`; stack.style.height = `${ui.Hpx}px`;
    ylabels.style.height = `${ui.Hpx}px`; xlabels.style.height = `${xh}px`;
    const bar = q(".aec-barcanvas");
    bar.width = 16; bar.height = Math.min(ui.Hpx, 320); bar.style.height = `${bar.height}px`;
    q(".aec-barticks").style.height = `${bar.height}px`;
    ui.font = font;
  }

  // -- painting ---------------------------------------------------------------------------------
  function range(stage, m) {
    if (stage === "mask") return [0, 1];
    let lo = Infinity, hi = -Infinity;
    const scan = (values) => {
      for (let x = 0; x < values.length; x++) { const v = values[x]; if (v === v && Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; } }
    };
    scan(m);
    // before and after on one scale, so that the same colour is the same weight in both
    if (ui.n.before && (stage === "before" || stage === "weights")) scan(ui.n.matrix(ui.head, stage === "before" ? "weights" : "before"));
    if (lo === Infinity) lo = hi = 0;
    const least = (ui.h.min_range && ui.h.min_range[stage]) || 0;   // float noise is not painted as a change
    if (!SIGNED.has(stage)) return [0, Math.max(hi, least) > 0 ? Math.max(hi, least) : 1];   // sequential from 0
    const a = Math.max(Math.abs(lo), Math.abs(hi), least) || 1;      // diverging, white at 0
    return [-a, a];
  }
  function colourOf(v, lo, hi, lut) {
    const p = Math.max(0, Math.min(255, Math.round(((v - lo) / (hi - lo)) * 255)));
    return [lut[p * 3], lut[p * 3 + 1], lut[p * 3 + 2]];
  }

  function paint() {
    const n = ui.n, R = n.R, C = n.C, stage = ui.stage;
    // The matrix and its colour range change with the payload, head or stage, never with a zoom
    // or a pan: a wheel notch or a drag's move repaints without a new 2048² copy and scan.
    if (ui.mOf !== n || ui.mKey !== `${ui.head}|${stage}`) {
      ui.m = n.matrix(ui.head, stage); ui.range = range(stage, ui.m);
      ui.mOf = n; ui.mKey = `${ui.head}|${stage}`;
    }
    const m = ui.m, [lo, hi] = ui.range;
    const lut = SIGNED.has(stage) ? n.a.diverging : n.a.sequential;
    const W = ui.W, H = ui.Hpx, v = ui.view;
    const cw = (v.x1 - v.x0) / W, ch = (v.y1 - v.y0) / H;   // cells per pixel
    const pooled = cw > 1 || ch > 1;
    const useMax = POOL_MAX.has(stage);
    const image = matrixCanvas.getContext("2d").createImageData(W, H);
    const px = image.data;
    const colStart = new Int32Array(W + 1);
    for (let x = 0; x <= W; x++) colStart[x] = Math.min(C, Math.floor(v.x0 + x * cw + 1e-9));
    for (let y = 0; y < H; y++) {
      const r0 = Math.min(R - 1, Math.floor(v.y0 + y * ch + 1e-9));
      const r1 = pooled ? Math.max(r0 + 1, Math.min(R, Math.floor(v.y0 + (y + 1) * ch + 1e-9))) : r0 + 1;
      for (let x = 0; x < W; x++) {
        const c0 = Math.min(C - 1, colStart[x]);
        const c1 = pooled ? Math.max(c0 + 1, colStart[x + 1]) : c0 + 1;
        let acc = useMax ? -Infinity : 0, count = 0;
        for (let r = r0; r < r1; r++) {
          const base = r * C;
          for (let c = c0; c < c1; c++) {
            const val = m[base + c];
            if (val !== val) continue;           // NaN: masked
            if (useMax) { if (val > acc) acc = val; } else acc += val;
            count++;
          }
        }
        const o = (y * W + x) * 4;
        let rgb;
        if (count === 0) rgb = ((x + y) >> 2) & 1 ? STRIPE_RGB : MASK_RGB;   // hatched: masked
        else rgb = colourOf(useMax ? acc : acc / count, lo, hi, lut);
        px[o] = rgb[0]; px[o + 1] = rgb[1]; px[o + 2] = rgb[2]; px[o + 3] = 255;
      }
    }
    matrixCanvas.getContext("2d").putImageData(image, 0, 0);
    ui.pooled = pooled ? [Math.ceil(ch), Math.ceil(cw), useMax] : null;
    labels(); colourBar(lut, lo, hi); titleAndNotes(); drawOverlay(); attributes();
    if (ui.ov && ui.ovStage !== stage) { ui.ovStage = stage; paintOverview(); } else if (ui.ov) drawOvOverlay();
    requestAnimationFrame(() => { ui.paints += 1; root.dataset.paint = String(ui.paints); });
  }

  function attributes() {
    const h = ui.h;
    Object.assign(root.dataset, { kind: h.kind, layer: String(h.layer), head: String(ui.head), stage: ui.stage,
                                  rows: String(h.rows), cols: String(h.cols) });
    for (const b of q(".aec-heads").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.head === String(ui.head)));
    for (const b of q(".aec-stages").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.stage === ui.stage));
  }

  function labels() {
    const h = ui.h, v = ui.view, font = ui.font;
    const line = font * 1.3;
    const axis = (box, tokens, flags, from, to, pixels, vertical) => {
      box.replaceChildren();
      const per = pixels / (to - from);                 // pixels per token
      const step = niceStep(Math.ceil(line / per));
      const first = Math.ceil(from / step) * step;
      const shown = [];                                  // [token index, centre in px]
      for (let i = first; i < Math.min(tokens.length, Math.ceil(to)); i += step) {
        const at = (i + 0.5 - from) * per;
        if (at >= 0 && at <= pixels) shown.push([i, at]);
      }
      // Centred on its cell, an end label's half would stick out past the box and be cut: it is
      // moved inside (the first token, "<bos> 0", stays named), and the label next to it is left
      // out if that brings the two closer than a line.
      const half = font / 2, last = () => shown.length - 1;
      if (shown.length && shown[0][1] < half) {
        shown[0][1] = half;
        if (shown.length > 1 && shown[1][1] - half < line) shown.splice(1, 1);
      }
      if (shown.length && shown[last()][1] > pixels - half) {
        shown[last()][1] = pixels - half;
        if (last() > 0 && shown[last()][1] - shown[last() - 1][1] < line) shown.splice(last() - 1, 1);
      }
      for (const [i, at] of shown) {
        const s = el("span", tokenClass(flags[i]), `${labelText(tokens[i], flags[i])} ${i}`);
        s.dataset.index = String(i);
        if (vertical) s.style.left = `${at}px`; else s.style.top = `${at}px`;
        box.appendChild(s);
      }
      return step;
    };
    ui.rowStep = axis(ylabels, h.query_tokens, ui.n.a.query_flags, v.y0, v.y1, ui.Hpx, false);
    ui.colStep = axis(xlabels, h.key_tokens, ui.n.a.key_flags, v.x0, v.x1, ui.W, true);
    q(".aec-ytitle").textContent = t(`axis.${h.kind}.query`);
    q(".aec-xtitle").textContent = t(`axis.${h.kind}.key`);
  }

  function colourBar(lut, lo, hi) {
    const bar = q(".aec-barcanvas"), ctx = bar.getContext("2d"), H = bar.height;
    for (let y = 0; y < H; y++) {
      const p = Math.round((1 - y / (H - 1)) * 255);
      ctx.fillStyle = `rgb(${lut[p * 3]},${lut[p * 3 + 1]},${lut[p * 3 + 2]})`;
      ctx.fillRect(0, y, bar.width, 1);
    }
    const ticks = q(".aec-barticks");
    ticks.replaceChildren();
    const values = ui.stage === "mask" ? [[1, t("bar.allowed")]] : [0, 0.25, 0.5, 0.75, 1].map((f) => [lo + f * (hi - lo), null]);
    for (const [value, text] of values) {
      const s = el("span", "", text || fmt(value, 3));
      s.style.top = `${(1 - (value - lo) / (hi - lo)) * (H - 1)}px`;
      ticks.appendChild(s);
    }
    q(".aec-bartitle").textContent = valueName();
  }

  function titleAndNotes() {
    const h = ui.h;
    const head = ui.head === "mean" ? t("head.mean") : t("head.n", { head: ui.head });
    q(".aec-title").textContent = isMatrices(h) ? [h.title, h.names[ui.head]].join(" · ")
      : [t(`kind.${h.kind}`), t("layer.n", { layer: h.layer }), head, t(`stage.${ui.stage}`)].join(" · ");
    const notes = q(".aec-notes");
    notes.replaceChildren();
    const add = (text) => notes.appendChild(el("div", "", text));
    if (ui.stage === "biased" && !ui.n.a.bias) add(t("note.no_bias"));
    if (ui.n.before) add(t(ui.stage === "change" ? "note.change" : "note.same_scale"));
    if (ui.n.before && ui.head !== "mean" && (h.heads_off || []).includes(ui.head)) add(t("note.head_off"));
    if (ui.n.masked === undefined) ui.n.masked = ui.n.a.allowed.includes(0);   // once per payload, not per paint
    if (ui.n.masked) add(t("note.hatched"));
    else if (ui.stage === "mask") add(t("note.no_mask"));   // one flat colour would read as a value
    // what the labels' marks mean, for the marks this input has
    const marks = [...ui.n.a.query_flags, ...ui.n.a.key_flags].reduce((a, f) => a | f, 0);
    for (const [bit, name] of [[UNKNOWN, "unknown"], [SPECIAL, "special"], [GENERATED, "generated"], [PADDING, "padding"]]) {
      if (marks & bit) notes.appendChild(el("div", name, t(`note.${name}`)));
    }
    if (ui.pooled) add(t(ui.pooled[2] ? "note.pooled_max" : "note.pooled_mean", { rows: ui.pooled[0], cols: ui.pooled[1] }));
    const v = ui.view;
    if (v.x0 > 0 || v.y0 > 0 || v.x1 < ui.n.C || v.y1 < ui.n.R) {
      add(t("note.zoomed", { r0: Math.floor(v.y0), r1: Math.ceil(v.y1) - 1, c0: Math.floor(v.x0), c1: Math.ceil(v.x1) - 1 }));
    }
    add(ui.open ? t("note.keys_open") : t("note.keys"));
    if (ui.rowStep > 1 || ui.colStep > 1) {
      add(t("note.thinned", { rows: ui.rowStep, cols: ui.colStep, rows_nth: ordinal(ui.rowStep), cols_nth: ordinal(ui.colStep) }));
    }
    q(".aec-reset").textContent = t("reset");
    q(".aec-png").textContent = t("png");
    q(".aec-reset").hidden = !(v.x0 > 0 || v.y0 > 0 || v.x1 < ui.n.C || v.y1 < ui.n.R);
  }

  // -- the overview: every layer × head of this kind, uint8 tiles (viz/canvas.overview_payload_part)
  //    A tile of another layer is approximate (pooled, coded in 255 steps); a click on it asks
  //    Python for that layer (a rerun: its q, k and v are not here), a click on one of this
  //    layer's tiles switches the head at once.
  const ovBox = q(".aec-overview"), ovCanvas = q(".aec-ov"), ovOverlay = q(".aec-ov-overlay"), ovTip = q(".aec-ov-tip");
  const OV_GAP = 6;

  function ovLayout() {
    const o = ui.ov, H = o.heads, L = o.layers.length, font = ui.font;
    const labelW = Math.round(font * 5.5);
    const room = Math.max(200, (root.clientWidth || 900) - labelW - 12);
    const aspect = o.rows / o.cols;                     // a cross-attention tile is not square
    let tw = Math.floor((room - (H - 1) * OV_GAP) / H);
    tw = Math.max(16, Math.min(tw, ui.h.lecture ? 150 : 110));
    const tallest = window.innerHeight * (ui.h.lecture ? 0.45 : 0.55);
    if (L * tw * aspect + (L - 1) * OV_GAP > tallest) tw = Math.max(16, Math.floor((tallest - (L - 1) * OV_GAP) / L / aspect));
    const th = Math.max(8, Math.round(tw * aspect));
    o.tw = tw; o.th = th;
    o.W = H * tw + (H - 1) * OV_GAP; o.Hpx = L * th + (L - 1) * OV_GAP;
    const grid = q(".aec-ov-grid");
    grid.style.gridTemplateColumns = `${labelW}px ${o.W}px`;
    grid.style.gridTemplateRows = `${Math.round(font * 1.6)}px ${o.Hpx}px`;
    for (const c of [ovCanvas, ovOverlay]) { c.width = o.W; c.height = o.Hpx; c.style.width = `${o.W}px`; c.style.height = `${o.Hpx}px`; }
    const stackBox = q(".aec-ov-stack");
    stackBox.style.width = `${o.W}px`; stackBox.style.height = `${o.Hpx}px`;
    const xl = q(".aec-ov-xlabels"), yl = q(".aec-ov-ylabels");
    xl.replaceChildren(); yl.replaceChildren();
    yl.style.height = `${o.Hpx}px`; xl.style.height = `${Math.round(font * 1.6)}px`;
    // head numbers above the columns (every one, or every k-th where tiles are narrow)
    const every = Math.max(1, Math.ceil((font * 1.8) / (tw + OV_GAP)));
    for (let hd = 0; hd < H; hd += every) {
      const sp = el("span", "", o.names ? o.names[hd] : String(hd));
      sp.style.left = `${hd * (tw + OV_GAP) + tw / 2}px`;
      xl.appendChild(sp);
    }
    o.layers.forEach((layer, l) => {
      const sp = el("span", "", o.row_names ? o.row_names[l] : t("layer.n", { layer }));
      sp.style.top = `${l * (th + OV_GAP) + th / 2}px`;
      yl.appendChild(sp);
    });
  }

  // The uint8 code of one tile cell at a stage (NO_VALUE 255 where masked) and its range.
  function ovCode(stage, l, hd, r, c) {
    const o = ui.ov, a = ui.n.a, cell = (r * o.cols + c), at = ((l * o.heads + hd) * o.rows + r) * o.cols + c;
    const ok = a.ov_allowed[l * o.rows * o.cols + cell] !== 0;
    if (stage === "weights") return a.ov_weights[at];
    if (stage === "mask") return ok ? 254 : 255;
    const biased = a.ov_biased ? a.ov_biased[at] : a.ov_scores[at];
    if (stage === "scores" || stage === "scaled") return a.ov_scores[at];
    if (stage === "biased") return biased;
    return ok ? biased : 255;        // masked: where the block has an allowed pair (pooled: its mean)
  }
  function ovRange(stage) {
    const r = ui.ov.ranges, s = ui.ov.scale;
    if (stage === "weights") return r.weights;
    if (stage === "mask") return [0, 1];
    if (stage === "scores") return r.scores;
    return r.biased || [r.scores[0] * s, r.scores[1] * s];
  }
  function paintOverview() {
    const o = ui.ov;
    if (!o) return;
    const stage = ui.stage, lut = SIGNED.has(stage) ? ui.n.a.diverging : ui.n.a.sequential;
    const image = ovCanvas.getContext("2d").createImageData(o.W, o.Hpx), px = image.data;
    for (let i = 0; i < px.length; i += 4) { px[i] = 255; px[i + 1] = 255; px[i + 2] = 255; px[i + 3] = 255; }
    const colOf = new Int32Array(o.tw), rowOf = new Int32Array(o.th);
    for (let x = 0; x < o.tw; x++) colOf[x] = Math.min(o.cols - 1, Math.floor((x * o.cols) / o.tw));
    for (let y = 0; y < o.th; y++) rowOf[y] = Math.min(o.rows - 1, Math.floor((y * o.rows) / o.th));
    o.layers.forEach((_, l) => {
      for (let hd = 0; hd < o.heads; hd++) {
        const left = hd * (o.tw + OV_GAP), top = l * (o.th + OV_GAP);
        for (let y = 0; y < o.th; y++) {
          for (let x = 0; x < o.tw; x++) {
            const code = ovCode(stage, l, hd, rowOf[y], colOf[x]);
            const at = ((top + y) * o.W + left + x) * 4;
            if (code === 255) {
              const rgb = ((x + y) >> 2) & 1 ? STRIPE_RGB : MASK_RGB;   // hatched: masked
              px[at] = rgb[0]; px[at + 1] = rgb[1]; px[at + 2] = rgb[2];
            } else {
              const p = Math.round((code * 255) / 254) * 3;
              px[at] = lut[p]; px[at + 1] = lut[p + 1]; px[at + 2] = lut[p + 2];
            }
          }
        }
      }
    });
    ovCanvas.getContext("2d").putImageData(image, 0, 0);
    const [lo, hi] = ovRange(stage);
    q(".aec-ov-title").textContent = isMatrices(ui.h) ? t("ov.title.matrices", { title: ui.h.title })
      : t("ov.title", { kind: t(`kind.${ui.h.kind}`), stage: t(`stage.${stage}`) });
    const note = [t("ov.note", { lo: fmt(lo, 3), hi: fmt(hi, 3) })];
    if (o.factor > 1) note.push(t(POOL_MAX.has(stage) ? "ov.pooled_max" : "ov.pooled_mean", { f: o.factor }));
    q(".aec-ov-note").textContent = note.join(" ");
    drawOvOverlay();
  }
  function ovTileAt(event) {
    const o = ui.ov, box = ovOverlay.getBoundingClientRect();
    const x = event.clientX - box.left, y = event.clientY - box.top;
    const hd = Math.floor(x / (o.tw + OV_GAP)), l = Math.floor(y / (o.th + OV_GAP));
    const tx = x - hd * (o.tw + OV_GAP), ty = y - l * (o.th + OV_GAP);
    if (hd < 0 || hd >= o.heads || l < 0 || l >= o.layers.length || tx >= o.tw || ty >= o.th) return null;
    return { l, hd, r: Math.min(o.rows - 1, Math.floor((ty * o.rows) / o.th)), c: Math.min(o.cols - 1, Math.floor((tx * o.cols) / o.tw)) };
  }
  function drawOvOverlay(hover) {
    const o = ui.ov, ctx = ovOverlay.getContext("2d");
    ctx.clearRect(0, 0, o.W, o.Hpx);
    const l = isMatrices(ui.h) ? 0 : o.layers.indexOf(ui.h.layer);
    const outline = (hd, colour, width) => {
      const x = hd * (o.tw + OV_GAP), y = l * (o.th + OV_GAP);
      ctx.strokeStyle = colour; ctx.lineWidth = width;     // inside the tile: the canvas's edge cuts nothing
      ctx.strokeRect(x + width / 2, y + width / 2, o.tw - width, o.th - width);
    };
    if (l >= 0) {       // the layer and head shown below
      if (ui.head === "mean") for (let hd = 0; hd < o.heads; hd++) outline(hd, "#a04000", 2);
      else outline(ui.head, "#a04000", 3);
    }
    if (hover) {
      ctx.strokeStyle = "#000000"; ctx.lineWidth = 1;
      ctx.strokeRect(hover.hd * (o.tw + OV_GAP) + 0.5, hover.l * (o.th + OV_GAP) + 0.5, o.tw - 1, o.th - 1);
    }
  }
  ovOverlay.addEventListener("pointermove", (event) => {
    if (!ui.ov) return;
    const tile = ovTileAt(event);
    drawOvOverlay(tile);
    if (!tile) { ovTip.hidden = true; return; }
    const o = ui.ov, code = ovCode(ui.stage, tile.l, tile.hd, tile.r, tile.c), [lo, hi] = ovRange(ui.stage);
    const name = isMatrices(ui.h) ? ui.h.values[tile.hd] : valueName();
    const value = code === 255 ? t("tip.masked") : `${name} ≈ ${fmt(lo + (code / 254) * (hi - lo), 3)}`;
    const where = o.names ? o.names[tile.hd] : t("ov.tip.tile", { layer: o.layers[tile.l], head: tile.hd });
    ovTip.textContent = [where, value, t("ov.tip.open")].join("\n");
    ovTip.hidden = false;
    const box = ovOverlay.getBoundingClientRect();
    let x = event.clientX - box.left + 14, y = event.clientY - box.top + 14;
    if (x + ovTip.offsetWidth > o.W) x = Math.max(0, x - ovTip.offsetWidth - 28);
    ovTip.style.left = `${x}px`; ovTip.style.top = `${y}px`;
  });
  ovOverlay.addEventListener("pointerleave", () => { ovTip.hidden = true; if (ui.ov) drawOvOverlay(); });
  ovOverlay.addEventListener("click", (event) => {
    if (!ui.ov) return;
    const tile = ovTileAt(event);
    if (!tile) return;
    const layer = ui.ov.layers[tile.l];
    if (layer === ui.h.layer || isMatrices(ui.h)) { setHead(tile.hd); return; }
    if (ui.h.standalone) { q(".aec-title").textContent = t("ov.standalone", { layer }); return; }
    // Another layer: its numbers are on the server. Tell Python now (one rerun) and say so.
    ui.head = tile.hd;
    writeUrl();
    q(".aec-title").textContent = t("ov.loading", { layer });
    sendWhenIdle(() => ({ ...choice(), layer }));
  });

  // -- geometry ---------------------------------------------------------------------------------
  function cellAt(event) {
    const box = overlay.getBoundingClientRect(), v = ui.view;
    const x = (event.clientX - box.left) / box.width, y = (event.clientY - box.top) / box.height;
    if (x < 0 || x >= 1 || y < 0 || y >= 1) return null;
    return [Math.min(ui.n.R - 1, Math.floor(v.y0 + y * (v.y1 - v.y0))), Math.min(ui.n.C - 1, Math.floor(v.x0 + x * (v.x1 - v.x0)))];
  }
  function cellBox(i, j) {
    const v = ui.view, sx = ui.W / (v.x1 - v.x0), sy = ui.Hpx / (v.y1 - v.y0);
    return [(j - v.x0) * sx, (i - v.y0) * sy, sx, sy];
  }

  function drawOverlay() {
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    const mark = (cell, colour, width) => {
      if (!cell) return;
      const [x, y, w, hgt] = cellBox(cell[0], cell[1]);
      ctx.strokeStyle = colour; ctx.lineWidth = width;
      ctx.strokeRect(x + 0.5, y + 0.5, Math.max(w - 1, 3), Math.max(hgt - 1, 3));
    };
    // where the model's own output begins (Generation): a dashed line above the first generated
    // row, white under black so it shows on both ends of the colour scale
    const flags = ui.n.a.query_flags, first = flags.findIndex((f) => f & GENERATED);
    if (first > 0 && first >= ui.view.y0 && first < ui.view.y1) {
      const y = Math.round(cellBox(first, 0)[1]) + 0.5;
      ctx.setLineDash([]); ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 4;
      ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(ui.W, y); ctx.stroke();
      ctx.setLineDash([8, 5]); ctx.strokeStyle = "#000000"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(ui.W, y); ctx.stroke();
      ctx.setLineDash([]);
    }
    if (ui.hover) {        // crosshair: the row's and the column's band
      const [x, y, w, hgt] = cellBox(ui.hover[0], ui.hover[1]);
      ctx.fillStyle = "rgba(255,255,255,0.28)";
      ctx.fillRect(0, y, ui.W, Math.max(hgt, 1));
      ctx.fillRect(x, 0, Math.max(w, 1), ui.Hpx);
      mark(ui.hover, "#000000", 1);
    }
    mark(ui.sel, "#ffffff", 3);
    mark(ui.sel, "#a04000", 2);
    for (const s of ylabels.querySelectorAll("span")) s.classList.toggle("hot", !!ui.hover && s.dataset.index === String(ui.hover[0]));
    for (const s of xlabels.querySelectorAll("span")) s.classList.toggle("hot", !!ui.hover && s.dataset.index === String(ui.hover[1]));
  }

  function showTip(event, cell) {
    if (!cell) { tip.hidden = true; return; }
    const [i, j] = cell, h = ui.h, n = ui.n;
    const value = ui.m[i * n.C + j];
    const lines = [
      `${t("tip.query")} ${i}: ${labelText(h.query_tokens[i], n.a.query_flags[i])}`,
      `${t("tip.key")} ${j}: ${labelText(h.key_tokens[j], n.a.key_flags[j])}`,
      value !== value ? t("tip.masked") : `${valueName()} = ${fmt(value)}`,
    ];
    if (ui.pooled) lines.push(t("tip.exact"));
    tip.textContent = lines.join("\n");
    tip.hidden = false;
    const box = stack.getBoundingClientRect();
    let x = event.clientX - box.left + 14, y = event.clientY - box.top + 14;
    if (x + tip.offsetWidth > ui.W) x = Math.max(0, x - tip.offsetWidth - 28);
    if (y + tip.offsetHeight > ui.Hpx) y = Math.max(0, y - tip.offsetHeight - 28);
    tip.style.left = `${x}px`; tip.style.top = `${y}px`;
  }

  // -- the derivation of one cell ------------------------------------------------------------------
  function derivation() {
    deriv.replaceChildren();
    if (!ui.open || !ui.cell) {
      deriv.hidden = true;
      delete deriv.dataset.row; delete deriv.dataset.col;
      return;
    }
    // Comparing two runs: the "before" view derives the first run's cell, the others the second's.
    const [i, j] = ui.cell, h = ui.h, n = ui.stage === "before" ? ui.n.before : ui.n, R = n.R, C = n.C, D = n.D;
    deriv.hidden = false;
    delete deriv.dataset.score; delete deriv.dataset.logit; delete deriv.dataset.change;
    deriv.dataset.row = String(i); deriv.dataset.col = String(j);
    const close = el("button", "close", "×");
    close.title = t("close");
    close.onclick = () => { ui.open = false; derivation(); titleAndNotes(); changed(); };
    deriv.appendChild(close);
    const qTok = labelText(h.query_tokens[i], n.a.query_flags[i]), kTok = labelText(h.key_tokens[j], n.a.key_flags[j]);
    deriv.appendChild(el("h4", "", t("d.title", { i, j, query: qTok, key: kTok })));
    const steps = el("div", "steps");
    const line = (text, name, value) => {
      const d = el("div", "", text);
      if (name) { d.dataset.name = name; d.dataset.value = String(value); }
      steps.appendChild(d);
      return d;
    };
    if (isMatrices(h)) { matrixRow(i, j, line, steps); return; }
    const heads = ui.head === "mean" ? [...Array(n.H).keys()] : [ui.head];
    const change = ui.stage === "change";
    if (change) {     // the two runs' weights of this cell, and their difference
      const [before, after] = [ui.n.before, ui.n].map((run) => heads.map((hd) => (run.allowed(i, j) ? run.weights(hd)[i * C + j] : 0)));
      const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
      const [b, a] = [mean(before), mean(after)];
      line(`${t("d.before")}: α = ${fmt(b)}`, "before", b);
      line(`${t("d.after")}: α = ${fmt(a)}`, "after", a);
      line(`${t("d.change")}: Δα = ${fmt(a - b)}`, "change", a - b);
      deriv.dataset.change = String(a - b);
      if (ui.head !== "mean" && (h.heads_off || []).includes(ui.head)) line(t("note.head_off"));
    }
    if (ui.head === "mean") {
      const weights = heads.map((hd) => (n.allowed(i, j) ? n.weights(hd)[i * C + j] : 0));
      const mean = weights.reduce((a, b) => a + b, 0) / n.H;
      line(t("d.mean", { heads: n.H }));
      heads.forEach((hd) => line(`${t("head.n", { head: hd })}: α = ${fmt(weights[hd])}`));
      line(`${t("d.mean_value")} = ${fmt(mean)}`, "weight", mean);
      deriv.dataset.weight = String(mean);
      deriv.appendChild(steps);
      return;
    }
    const hd = ui.head, qa = n.a.q, ka = n.a.k, va = n.a.v;
    const qb = (hd * R + i) * D, kb = (hd * C + j) * D;
    const score = n.scores(hd)[i * C + j];
    const scaled = score * h.scale;
    const logit = n.logit(hd, i, j);
    const ok = n.allowed(i, j);
    const w = n.weights(hd);
    const alpha = ok ? w[i * C + j] : 0;
    deriv.dataset.score = String(score); deriv.dataset.logit = String(ok ? logit : -Infinity); deriv.dataset.weight = String(alpha);
    // q_i, k_j, their product, v_j and z_i, one row per dimension (v and z where v was sent:
    // a compared first run sends q and k only, to stay within the byte budget)
    const table = el("table"), head = el("tr");
    const names = ["d", `q${i}`, `k${j}`, `q${i}⊙k${j}`, ...(va ? [`v${j}`, `z${i}`] : [])];
    for (const c of names) head.appendChild(el("th", "", c));
    table.appendChild(head);
    const z = new Float64Array(D);
    for (let jj = 0; va && jj < C; jj++) {
      const a = ok || n.allowed(i, jj) ? w[i * C + jj] : 0;
      if (a === 0) continue;
      const vb = (hd * C + jj) * D;
      for (let d = 0; d < D; d++) z[d] += a * va[vb + d];
    }
    for (let d = 0; d < D; d++) {
      const r = el("tr");
      r.appendChild(el("td", "", String(d)));
      const values = [qa[qb + d], ka[kb + d], qa[qb + d] * ka[kb + d], ...(va ? [va[kb + d], z[d]] : [])];
      for (const value of values) r.appendChild(el("td", "", fmt(value)));
      table.appendChild(r);
    }
    const vectors = el("div", "vectors");
    vectors.appendChild(table);
    line(t("d.head", { head: hd, layer: h.layer, d: D }));
    line(`${t("d.sum")} = ${fmt(score)}`, "score", score);
    line(`× ${t("d.scale")} ${fmt(h.scale)} = ${fmt(scaled)}`, "scaled", scaled);
    if (n.a.bias) line(`+ ${t("d.bias")} ${fmt(n.bias(hd, i, j))} = ${fmt(logit)}`, "biased", logit);
    line(ok ? t("d.allowed", { value: fmt(logit) }) : t("d.masked"), "logit", ok ? logit : -Infinity);
    line(`${t("d.softmax")}: α${i},${j} = ${fmt(alpha)}`, "weight", alpha);
    deriv.appendChild(steps);
    deriv.appendChild(vectors);
    // the softmax over row i: the largest weights and the chosen one
    deriv.appendChild(el("div", "", t("d.row", { i })));
    const order = [...Array(C).keys()].filter((jj) => n.allowed(i, jj)).sort((a, b) => w[i * C + b] - w[i * C + a]);
    const top = order.slice(0, 8);
    if (!top.includes(j) && ok) top.push(j);
    for (const jj of top) {
      const r = el("div", jj === j ? "row chosen" : "row");
      r.appendChild(el("span", tokenClass(n.a.key_flags[jj]), `${labelText(h.key_tokens[jj], n.a.key_flags[jj])} ${jj}`));
      const wrap = el("div", "barwrap"), fill = el("div", "barfill");
      fill.style.width = `${Math.round(w[i * C + jj] * 100)}%`;
      wrap.appendChild(fill); r.appendChild(wrap);
      r.appendChild(el("span", "", fmt(w[i * C + jj])));
      deriv.appendChild(r);
    }
    if (order.length > top.length) deriv.appendChild(el("div", "", t("d.more", { n: order.length - top.length })));
    if (va) deriv.appendChild(el("div", "", t("d.z", { i })));
  }

  // A ready-made matrix's cell: its value, and the largest values of its row (where position i's
  // attention, or rollout, comes from), the chosen one outlined.
  function matrixRow(i, j, line, steps) {
    const n = ui.n, C = n.C, m = n.matrix(ui.head, "weights"), h = ui.h;
    const value = m[i * C + j];
    line(`${h.names[ui.head]} = ${fmt(value)}`, "weight", value);
    deriv.dataset.weight = String(value === value ? value : 0);
    deriv.appendChild(steps);
    deriv.appendChild(el("div", "", t("d.matrix_row", { i })));
    const order = [...Array(C).keys()].filter((jj) => m[i * C + jj] === m[i * C + jj]).sort((a, b) => m[i * C + b] - m[i * C + a]);
    const top = order.slice(0, 10);
    if (!top.includes(j) && value === value) top.push(j);
    const most = Math.max(...top.map((jj) => m[i * C + jj]), 1e-9);
    for (const jj of top) {
      const r = el("div", jj === j ? "row chosen" : "row");
      r.appendChild(el("span", tokenClass(n.a.key_flags[jj]), `${labelText(h.key_tokens[jj], n.a.key_flags[jj])} ${jj}`));
      const wrap = el("div", "barwrap"), fill = el("div", "barfill");
      fill.style.width = `${Math.round((m[i * C + jj] / most) * 100)}%`;
      wrap.appendChild(fill); r.appendChild(wrap);
      r.appendChild(el("span", "", fmt(m[i * C + jj])));
      deriv.appendChild(r);
    }
    if (order.length > top.length) deriv.appendChild(el("div", "", t("d.more", { n: order.length - top.length })));
  }

  // -- choosing -----------------------------------------------------------------------------------
  function choose(cell, open) {
    ui.sel = cell; ui.cell = cell;
    if (open !== undefined) ui.open = open;
    drawOverlay(); derivation(); titleAndNotes(); changed();
  }
  function setHead(head) { ui.head = head; paint(); derivation(); changed(); }
  function setStage(stage) { ui.stage = stage; paint(); derivation(); changed(); }   // a comparison derives per view

  function buttons() {
    const h = ui.h;
    const heads = q(".aec-heads");
    heads.replaceChildren(el("span", "aec-label", t(isMatrices(h) ? "show" : "head")));
    const add = (box, text, key, value, onclick) => {
      const b = el("button", "", text);
      b.type = "button"; b.dataset[key] = String(value);
      b.onclick = onclick;
      box.appendChild(b);
    };
    const off = new Set(h.heads_off || []);   // Intervene: heads switched off in the second run
    const name = (hd) => (isMatrices(h) ? h.names[hd] : off.has(hd) ? t("head.off", { head: hd }) : String(hd));
    for (let hd = 0; hd < h.heads; hd++) add(heads, name(hd), "head", hd, () => setHead(hd));
    if (h.mean !== false) add(heads, t("head.mean"), "head", "mean", () => setHead("mean"));
    const stages = q(".aec-stages");
    stages.hidden = h.stages.length < 2;        // one stage: nothing to choose
    stages.replaceChildren(el("span", "aec-label", t("stage")));
    for (const s of h.stages) add(stages, t(`stage.${s}`), "stage", s, () => setStage(s));
  }

  // -- events (bound once) ------------------------------------------------------------------------
  overlay.addEventListener("pointermove", (event) => {
    if (!ui.n) return;
    if (ui.drag) {
      const v = ui.view, d = ui.drag;
      const dx = (event.clientX - d.x) / ui.W * (v.x1 - v.x0), dy = (event.clientY - d.y) / ui.Hpx * (v.y1 - v.y0);
      if (Math.abs(event.clientX - d.x) + Math.abs(event.clientY - d.y) > 3) d.moved = true;
      if (d.moved) {
        pan(d.view, -dx, -dy);
        paintSoon();
        return;
      }
    }
    const cell = cellAt(event);
    ui.hover = cell;
    drawOverlay(); showTip(event, cell);
  });
  overlay.addEventListener("pointerleave", () => { ui.hover = null; tip.hidden = true; if (ui.n) drawOverlay(); });
  overlay.addEventListener("pointerdown", (event) => {
    if (!ui.n) return;
    ui.drag = { x: event.clientX, y: event.clientY, view: { ...ui.view }, moved: false };
    overlay.setPointerCapture(event.pointerId);
  });
  overlay.addEventListener("pointerup", (event) => {
    const d = ui.drag;
    ui.drag = null;
    if (!ui.n || (d && d.moved)) return;
    const cell = cellAt(event);
    if (cell) { choose(cell, true); root.focus({ preventScroll: true }); }
  });
  overlay.addEventListener("wheel", (event) => {
    if (!ui.n) return;
    event.preventDefault();
    const box = overlay.getBoundingClientRect(), v = ui.view;
    const fx = (event.clientX - box.left) / box.width, fy = (event.clientY - box.top) / box.height;
    const factor = event.deltaY > 0 ? 1.25 : 0.8;
    const cx = v.x0 + fx * (v.x1 - v.x0), cy = v.y0 + fy * (v.y1 - v.y0);
    const w = Math.min(ui.n.C, Math.max(Math.min(MIN_ZOOM_CELLS, ui.n.C), (v.x1 - v.x0) * factor));
    const hh = Math.min(ui.n.R, Math.max(Math.min(MIN_ZOOM_CELLS, ui.n.R), (v.y1 - v.y0) * factor));
    ui.view = clampView({ x0: cx - fx * w, x1: cx - fx * w + w, y0: cy - fy * hh, y1: cy - fy * hh + hh });
    paintSoon();
  }, { passive: false });
  // Pointer moves and wheel notches come faster than a 2048² picture paints: the view follows
  // each at once, the picture once per frame.
  function paintSoon() {
    if (ui.paintQueued) return;
    ui.paintQueued = true;
    requestAnimationFrame(() => { ui.paintQueued = false; if (ui.n) paint(); });
  }
  function pan(from, dx, dy) { ui.view = clampView({ x0: from.x0 + dx, x1: from.x1 + dx, y0: from.y0 + dy, y1: from.y1 + dy }); }
  function clampView(v) {
    const C = ui.n.C, R = ui.n.R, w = v.x1 - v.x0, h = v.y1 - v.y0;
    const x0 = Math.max(0, Math.min(C - w, v.x0)), y0 = Math.max(0, Math.min(R - h, v.y0));
    return { x0, x1: x0 + w, y0, y1: y0 + h };
  }
  // PNG of what the canvas shows (title, matrix, labels, colour bar), made here: no rerun.
  function exportPng() {
    const font = ui.font, yw = ylabels.offsetWidth, xh = xlabels.offsetHeight, top = font * 2.2;
    const barX = yw + ui.W + 14, bar = q(".aec-barcanvas");
    const out = document.createElement("canvas");
    out.width = barX + 110; out.height = Math.ceil(top + ui.Hpx + xh + 8);
    const ctx = out.getContext("2d");
    ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, out.width, out.height);
    ctx.fillStyle = "#000000"; ctx.font = `600 ${font + 2}px sans-serif`; ctx.textBaseline = "middle";
    ctx.fillText(q(".aec-title").textContent, 4, font);
    ctx.drawImage(matrixCanvas, yw, top);
    ctx.font = `${font}px sans-serif`;
    ctx.textAlign = "right";
    for (const s of ylabels.querySelectorAll("span")) ctx.fillText(s.textContent, yw - 4, top + parseFloat(s.style.top));
    for (const s of xlabels.querySelectorAll("span")) {
      ctx.save(); ctx.translate(yw + parseFloat(s.style.left), top + ui.Hpx + 4); ctx.rotate(-Math.PI / 2);
      ctx.fillText(s.textContent, 0, 0); ctx.restore();
    }
    ctx.textAlign = "left";
    ctx.drawImage(bar, barX, top);
    for (const s of q(".aec-barticks").querySelectorAll("span")) ctx.fillText(s.textContent, barX + bar.width + 6, top + parseFloat(s.style.top));
    const link = document.createElement("a");
    link.download = `attention-${ui.h.kind}-L${ui.h.layer}-${ui.head}-${ui.stage}.png`;
    link.href = out.toDataURL("image/png");
    link.click();
  }
  q(".aec-png").addEventListener("click", exportPng);
  q(".aec-reset").addEventListener("click", () => { ui.view = { x0: 0, x1: ui.n.C, y0: 0, y1: ui.n.R }; paint(); });
  root.addEventListener("keydown", (event) => {
    if (!ui.n) return;
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (moves[event.key]) {
      event.preventDefault();
      const [di, dj] = moves[event.key], s = ui.sel || [0, 0];
      const cell = [Math.max(0, Math.min(ui.n.R - 1, s[0] + di)), Math.max(0, Math.min(ui.n.C - 1, s[1] + dj))];
      ui.sel = cell;
      if (ui.open) ui.cell = cell;
      keepVisible(cell);
      drawOverlay(); if (ui.open) { derivation(); changed(); }
    } else if (event.key === "Enter" && ui.sel) {
      event.preventDefault();
      choose(ui.sel, true);
    } else if (event.key === "Escape") {
      event.preventDefault();
      ui.open = false; derivation(); titleAndNotes(); changed();
    }
  });
  function keepVisible(cell) {
    const v = ui.view;
    if (cell[0] >= v.y0 && cell[0] < v.y1 && cell[1] >= v.x0 && cell[1] < v.x1) return;
    const w = v.x1 - v.x0, h = v.y1 - v.y0;
    ui.view = clampView({ x0: cell[1] - w / 2, x1: cell[1] + w / 2, y0: cell[0] - h / 2, y1: cell[0] + h / 2 });
    paint();
  }
  window.addEventListener("resize", () => { if (ui.n) { layout(); if (ui.ov) { ovLayout(); ui.ovStage = null; } paint(); } });

  // -- a new payload ----------------------------------------------------------------------------
  // The server hears of the choices made here only on a later run (see `changed`), so a payload
  // may carry a head, stage or cell older than what the person chose since. Rule: a value the
  // server sends is taken when it differs from what it sent last time (a link, another page,
  // a Streamlit control changed it); an unchanged one is stale, and the choice made here stays.
  ui.load = ({ header, arrays }) => {
    const same = ui.h && ui.h.rows === header.rows && ui.h.cols === header.cols;
    const last = ui.sent, cellKey = JSON.stringify(header.cell);
    const before = arrays.before_q && new Numbers(header, {
      q: arrays.before_q, k: arrays.before_k, bias: arrays.before_bias, allowed: arrays.before_allowed,
      query_flags: arrays.query_flags, key_flags: arrays.key_flags });
    ui.h = header; ui.n = new Numbers(header, arrays, before);
    if (!last || last.head !== header.head) ui.head = header.head;
    if (ui.head === "mean" ? header.mean === false : !(ui.head < header.heads)) ui.head = 0;
    if (!last || last.stage !== header.stage) ui.stage = header.stage;
    if (!header.stages.includes(ui.stage)) ui.stage = header.stage;
    if (!last || last.cell !== cellKey) { ui.cell = header.cell; ui.open = !!header.cell; }
    if (ui.cell && !(ui.cell[0] < header.rows && ui.cell[1] < header.cols)) { ui.cell = null; ui.open = false; }
    ui.sel = ui.cell;
    ui.sent = { head: header.head, stage: header.stage, cell: cellKey };
    if (!same || !ui.view) ui.view = { x0: 0, x1: header.cols, y0: 0, y1: header.rows };
    root.classList.toggle("lecture", !!header.lecture);
    ui.ov = header.overview || null; ui.ovStage = null;
    ovBox.hidden = !ui.ov;
    buttons(); layout(); if (ui.ov) ovLayout(); paint(); derivation(); titleAndNotes(); writeUrl();
  };
  return ui;
}
