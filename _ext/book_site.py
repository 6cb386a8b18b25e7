"""Small fixes to the HTML the book's extensions produce (loaded from _config.yml).

Sphinx 7.4 re-adds inline scripts that extensions register after the builder started
(``app.add_js_file(None, body=...)``) a second time when it re-initialises its script list,
so each page declared sphinx-thebe's ``const THEBE_JS_URL`` twice: a SyntaxError in every
reader's console.  This drops exact duplicates from each page's scripts.
"""

from __future__ import annotations

from typing import Any


def _key(script: Any) -> tuple:
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: Sphinx restores the builder's list after the page


def setup(app):
    # After every extension (myst-nb adds per-page scripts at the default priority 500).
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
