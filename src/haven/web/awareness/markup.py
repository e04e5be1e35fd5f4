"""Markdown to safe HTML for the awareness pages.

The text is written by a centre's administrators, but it is shown to the public without a sign-in,
so it is treated as hostile: markdown-it renders CommonMark with raw HTML switched off, then nh3
(the ammonia sanitiser) keeps only the tags a page of text needs.  Pictures are dropped, not only
scripts: a picture from another site would tell that site who reads about image-based abuse, and a
picture of ours would weigh on a survivor's phone bill.  Headings move one level down, as the page
title is the only ``h1``.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).disable("image")

TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "strong", "em", "a", "blockquote",
    "code", "pre",
}  # fmt: skip
ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
SCHEMES = {"https", "http", "mailto", "tel"}


def render(text: str) -> str:
    """Sanitised HTML for ``text`` (Markdown)."""
    tokens = _md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    html = _md.renderer.render(tokens, _md.options, {})
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def escape(text: str) -> str:
    """``text`` as literal Markdown (a centre's name inside built-in text)."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!<>|~" else c for c in text)
