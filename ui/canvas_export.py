"""The attention canvas as a page of its own: one HTML file that opens offline and works as the
canvas in the app does (heads, stages, hover, cells, zoom, PNG), its data inside it.

The file holds the component's own HTML, CSS and JavaScript (ui/components/attention_canvas.*,
read here, not copied) and the payload as base64; a few lines load the JavaScript module from
that text and call its default function as Streamlit would, with a component object whose
setStateValue does nothing: there is no server to tell. The payload's header says
"standalone", so the canvas leaves the address bar alone and says that another layer is not
in this file."""
from __future__ import annotations

import base64
import html
import json

from viz.canvas import pack, unpack

from .component_files import FILES

_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ margin: 24px; background: #ffffff; }} {css}</style></head>
<body><div id="host">{markup}</div>
<script type="module">
const source = {js};
const payload = Uint8Array.from(atob("{payload}"), (c) => c.charCodeAt(0));
const module = await import(URL.createObjectURL(new Blob([source], {{ type: "text/javascript" }})));
module.default({{ parentElement: document.getElementById("host"), data: payload, setStateValue: () => {{}} }});
</script></body></html>
"""


def standalone_html(payload: bytes, title: str, lang: str = "en") -> str:
    """A self-contained HTML page showing the canvas mounted with `payload` (viz.canvas)."""
    header, arrays = unpack(payload)
    header = {name: value for name, value in header.items() if name != "arrays"}
    header["standalone"] = True
    read = lambda suffix: (FILES / f"attention_canvas.{suffix}").read_text(encoding="utf-8")  # noqa: E731
    # json.dumps writes the module text as one JS string literal; "</" is escaped so the text
    # cannot close the <script> element it sits in.
    js = json.dumps(read("js")).replace("</", "<\\/")
    return _PAGE.format(lang=html.escape(lang), title=html.escape(title), css=read("css"), markup=read("html"),
                        js=js, payload=base64.b64encode(pack(header, arrays)).decode("ascii"))
