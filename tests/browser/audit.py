"""What a person in a lecture hall sees, measured in the page's DOM: text that is too small, too
faint or cut off, and words left in the wrong language. Used by the lecture walk
(tests/browser/test_lecture.py); each function returns the offending texts, [] when all is well.

Only what is on screen counts (the viewport, 1920 × 1080 in a lecture): the element's box must
intersect it and be visible. SVG text (plotly's labels) counts as text like any other.
"""
from __future__ import annotations

import re

# The visible text-bearing elements: elements with a direct, non-blank text node, plus SVG
# <text>/<tspan>. Returns [{text, size, colour, background, cut, svgCut, inSidebar}].
_COLLECT = r"""
() => {
  const W = window.innerWidth, H = window.innerHeight;
  const out = [];
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.bottom <= 0 || r.right <= 0 || r.top >= H || r.left >= W) return false;
    // a folded expander keeps its contents laid out, clipped: not on screen
    const folded = el.closest('details:not([open])');
    if (folded && !el.closest('summary')) return false;
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden' || parseFloat(s.opacity) === 0) return false;
    }
    return true;
  };
  const background = (el) => {
    // the nearest painted ancestor whose box holds the text (a label drawn outside its parent,
    // like a slider's value above the thumb, sits on what is behind it, not on the parent)
    const r = el.getBoundingClientRect();
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      const b = e.getBoundingClientRect();
      const holds = b.left <= r.left + 1 && b.right >= r.right - 1 && b.top <= r.top + 1 && b.bottom >= r.bottom - 1;
      if (holds && c && c !== 'transparent' && !/rgba\(.*,\s*0\)$/.test(c)) return c;
    }
    return 'rgb(255, 255, 255)';
  };
  const svgCut = (el) => {
    const svg = el.ownerSVGElement && el.closest('svg.main-svg');
    if (!svg) return false;
    const a = el.getBoundingClientRect(), b = svg.getBoundingClientRect();
    return a.left < b.left - 1 || a.right > b.right + 1 || a.top < b.top - 1 || a.bottom > b.bottom + 1;
  };
  const htmlCut = (el) => {
    // text clipped by its own box: wider than it can show, with overflow hidden or an ellipsis
    for (let e = el, i = 0; e && i < 3; e = e.parentElement, i++) {
      const s = getComputedStyle(e);
      if ((s.overflowX === 'hidden' || s.overflow === 'hidden' || s.textOverflow === 'ellipsis')
          && e.scrollWidth > e.clientWidth + 1) return true;
    }
    return false;
  };
  // every element, those inside shadow roots included (the attention canvas is a component
  // rendered in a shadow root: document.querySelectorAll does not see into it)
  const all = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      all.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document.body);
  for (const el of all) {
    if (['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(el.tagName)) continue;
    if (el.closest('.katex-mathml')) continue;            // KaTeX's hidden MathML copy
    if (el.closest('[data-testid=stToolbar], [data-testid=stHeader] button')) continue;
    const isSvgText = el.tagName === 'text' || el.tagName === 'tspan';
    let text = '';
    if (isSvgText) {
      if (el.tagName === 'text' && el.querySelector('tspan')) continue;   // its tspans count
      text = el.textContent;
    } else {
      for (const n of el.childNodes) if (n.nodeType === 3) text += n.textContent;
    }
    text = text.replace(/\s+/g, ' ').trim();
    if (!text || !visible(el)) continue;
    // Material icon names are drawn as glyphs (e.g. "keyboard_double_arrow_left"), not read
    const s = getComputedStyle(el);
    if (/Material/i.test(s.fontFamily)) continue;
    // A superscript or subscript (W^Q in a plotly title, d_k in a KaTeX formula) is drawn smaller
    // by design: it is read with the letter it sits on, so it counts at that letter's size.
    const script = (isSvgText && /font-size:\s*70%/.test(el.getAttribute('style') || ''))
                   || !!el.closest('.msupsub');
    const sizeOf = script ? (isSvgText ? el.parentElement : el.closest('.katex')) : el;
    out.push({text, size: parseFloat(getComputedStyle(sizeOf).fontSize), script, colour: isSvgText ? (el.getAttribute('fill') || s.fill || s.color) : s.color,
              background: background(el), cut: isSvgText ? false : htmlCut(el), svgCut: isSvgText && svgCut(el),
              inSidebar: !!el.closest('[data-testid=stSidebar]'),
              // numbers printed in heatmap cells: plotly picks black or white by each cell's own
              // colour, which the DOM does not hold (the cells are one image)
              onCells: isSvgText && !!el.closest('.heatmaplayer'),
              // text the page quotes rather than says: the model's output and typed or example
              // text (code boxes, text boxes, example pills) and formulas (KaTeX)
              literal: !!el.closest('[data-testid=stCode], [data-testid=stTextInput], [data-testid=stButtonGroup], .st-key-guide-examples, .katex')
                       // the canvas's token labels, its vectors' table (q4, k15: symbols) and its row of keys
                       || !!el.closest('.aec-ylabels, .aec-xlabels, .aec-tip, .aec-derivation table, .aec-derivation .row')});
  }
  return out;
}
"""


def texts(page) -> list[dict]:
    return page.evaluate(_COLLECT)


def _rgb(colour: str) -> tuple[float, float, float]:
    colour = colour.strip()
    if colour.startswith("#"):
        h = colour[1:]
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))
    numbers = [float(x) for x in re.findall(r"[\d.]+", colour)[:4]]
    r, g, b = numbers[:3]
    alpha = numbers[3] if len(numbers) == 4 else 1.0
    # a translucent colour over white, as it is painted
    return tuple(alpha * c + (1 - alpha) * 255 for c in (r, g, b))


def _luminance(rgb) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two CSS colours (1 to 21)."""
    a, b = sorted((_luminance(_rgb(foreground)), _luminance(_rgb(background))), reverse=True)
    return (a + 0.05) / (b + 0.05)


def too_small(items, minimum: float = 20) -> list[str]:
    return [f"{i['text'][:40]!r} {i['size']}px" for i in items if i["size"] < minimum - 0.01]


def too_faint(items, minimum: float = 7) -> list[str]:
    found = []
    for i in items:
        if i.get("onCells"):
            continue
        ratio = contrast(i["colour"], i["background"])
        if ratio < minimum:
            found.append(f"{i['text'][:40]!r} {ratio:.1f}:1 ({i['colour']} on {i['background']})")
    return found


def cut_off(items) -> list[str]:
    return [repr(i["text"][:40]) for i in items if i["cut"] or i["svgCut"]]


# Words allowed in a Chinese page: model and family names, formula and maths names, units and
# what the source text itself writes in Latin letters.
ALLOWED_WORDS = {
    "toy", "seq2seq", "gpt", "bert", "minilm", "all", "MiniLM", "L6", "v2", "encoder", "decoder",
    "softmax", "QK", "Q", "K", "V", "W", "d_k", "d_model", "d_ff", "Attention", "MultiHead", "Concat", "head",
    "ReLU", "GELU", "SiLU", "SwiGLU", "RMSNorm", "LayerNorm", "FFN", "logits", "Transformer", "BERT", "GPT", "PNG",
    "CSV", "npz", "URL", "Python", "ASCII", "CPU", "GPU", "CUDA", "Hugging", "Face", "WordPiece", "BPE", "English", "max", "exp",
    "bos", "eos", "pad", "unk", "CLS", "SEP", "MASK", "mask", "px", "float32", "Sublayer", "Norm", "CrossAttention",
    "enc", "out", "Z", "x", "h", "mean_h", "ij", "logit", "d_head", "q_d", "k_d", "HTML", "Esc",
    "rollout", "Abnar", "Zuidema",      # the method's name as the source text writes it, and its authors
}


def english_words(items, allowed=ALLOWED_WORDS, token_texts: set = frozenset()) -> list[str]:
    """Visible texts holding a word of two or more Latin letters that is not allowed (model
    names, formulas, token text)."""
    allowed_lower = {w.lower() for w in allowed}
    quoted = " ".join(token_texts).lower()      # a word inside the typed text or the output is token text
    found = []
    for i in items:
        if i.get("literal"):
            continue
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9_]+", i["text"])
                 if w.lower() not in allowed_lower and w.lower() not in quoted]
        if words:
            found.append(f"{i['text'][:60]!r}: {words}")
    return found
