"""The sidebar's "Copy link" button: a lecturer prepares links to views before class.

The address bar always holds the view (ui/context.sync_url), so the button copies it as it is;
the component (Streamlit components v2, its HTML, CSS and JS in ui/components/) runs in the page
itself, where the URL is. No user text reaches its HTML: the labels are the translation table's.
"""
from __future__ import annotations

from .component_files import component
from .i18n import register


register("en", {
    "share.copy": "🔗 Copy link to this view",
    "share.copied": "Copied: the link reopens this page with every choice made on it.",
    "share.manual": "The browser did not allow copying: the link is selected above, press Ctrl+C (⌘C).",
})
register("zh", {
    "share.copy": "🔗 复制此视图的链接",
    "share.copied": "已复制：此链接会以当前的全部选择重新打开本页。",
    "share.manual": "浏览器不允许复制：链接已在上方选中，请按 Ctrl+C（⌘C）。",
})


def copy_link_button(t) -> None:
    component("copy_link")(key="share.copy_link",
                 data={"copy": t("share.copy"), "copied": t("share.copied"), "manual": t("share.manual")})
