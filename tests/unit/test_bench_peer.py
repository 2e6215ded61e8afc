"""The BertViz peer of `python -m bench` loads nothing from the network: every script its page
asks for is rewritten to the loopback server. bertviz is only in bench/requirements.txt, so
this skips where it is not installed (CI)."""
import pytest

pytest.importorskip("bertviz", reason="bertviz is only for the benchmark's peer: pip install -r bench/requirements.txt")

import torch  # noqa: E402
from bertviz import model_view  # noqa: E402

from bench.bertviz_peer import SCRIPTS, external_urls, loopback_html  # noqa: E402

BASE = "http://127.0.0.1:8765"


def _page() -> str:
    """BertViz's own page for 2 layers x 2 heads over 3 tokens."""
    attention = [torch.softmax(torch.randn(1, 2, 3, 3), -1) for _ in range(2)]
    return model_view(attention, ["[CLS]", "cat", "[SEP]"], html_action="return").data


def test_bertviz_page_asks_the_cdn_we_rewrite():
    html = _page()
    assert set(external_urls(html, BASE)) == set(SCRIPTS), "bertviz changed its script URLs"


def test_every_script_points_at_loopback():
    html = loopback_html(_page(), BASE)
    assert external_urls(html, BASE) == []
    assert f'src="{BASE}/require.js"' in html
    assert f"d3: '{BASE}/d3.min'" in html and f"jquery: '{BASE}/jquery.min'" in html


def test_an_unknown_outside_url_is_refused():
    with pytest.raises(ValueError, match="points outside"):
        loopback_html(_page().replace("</div>", '<script src="https://example.com/x.js"></script></div>', 1), BASE)
