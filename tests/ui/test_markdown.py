"""Model and review text is rendered without raw HTML or remote images."""

from ui.web.markdown import quote, safe_markdown


def test_remote_images_become_their_alt_text():
    out = safe_markdown("Look ![tracker](http://203.0.113.9/p.png) and ![][ref]\n\n[ref]: http://203.0.113.9/q.png")
    assert "203.0.113.9" not in out and "![" not in out and "[image: tracker]" in out


def test_html_is_shown_as_text_not_rendered():
    out = safe_markdown('<img src=x onerror="alert(1)"><script>alert(2)</script> **bold** 3 > 2')
    assert "<img" not in out and "<script" not in out and "&lt;script" in out
    assert "**bold**" in out and "3 > 2" in out


def test_invisible_characters_are_removed_and_quotes_are_cut():
    assert safe_markdown("ign\u200bore\u202e") == "ignore"
    quoted = quote("x" * 1000, limit=50)
    assert quoted.startswith("> ") and len(quoted) <= 52 and quoted.endswith("…")
