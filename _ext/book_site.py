"""Small additions to the book's Sphinx build (loaded from _config.yml).

* Duplicate scripts.  Sphinx 7.4 re-adds inline scripts that extensions register after
  the builder started (``app.add_js_file(None, body=...)``) a second time when it
  re-initialises its script list, so each page declared sphinx-thebe's ``const
  THEBE_JS_URL`` twice: a SyntaxError in every reader's console.  This drops exact
  duplicates from each page's scripts.
* MathJax on every page (a chapter title with math appears in every page's navigation).
* Citation labels.  Author-year citations made two papers read "He et al., 2016"; the
  ``authoryear`` bibliography style labels entries "He et al., 2016a", "He et al.,
  2016b" (pybtex's alpha rule for equal labels), and the ``author_year_suffix``
  reference style cites them the same way: {cite}`key` gives [He et al., 2016b],
  {cite:t}`key` He et al. [2016b].
"""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.template import join, node
from sphinxcontrib.bibtex.plugin import register_plugin as register_bibtex_plugin
from sphinxcontrib.bibtex.style.referencing.author_year import (
    AuthorYearReferenceStyle,
)
from sphinxcontrib.bibtex.style.referencing.basic_author_year import (
    BasicAuthorYearParentheticalReferenceStyle,
    BasicAuthorYearTextualReferenceStyle,
)
from sphinxcontrib.bibtex.style.template import (
    join2,
    post_text,
    pre_text,
    reference,
)
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels.alpha import LabelStyle as AlphaLabelStyle


class AuthorYearLabelStyle(AlphaLabelStyle):
    """``Surname, 2016``, ``Surname and Other, 2016`` or ``Surname et al., 2016``."""

    def format_label(self, entry) -> str:
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        surnames = [
            " ".join(p.last_names).replace("{", "").replace("}", "")
            for p in persons
        ]
        if not surnames:
            names = entry.key
        elif len(surnames) == 1:
            names = surnames[0]
        elif len(surnames) == 2:
            names = f"{surnames[0]} and {surnames[1]}"
        else:
            names = f"{surnames[0]} et al."
        year = entry.fields.get("year", "")
        return f"{names}, {year}" if year else names


class AuthorYearStyle(PlainStyle):
    """pybtex's plain style (sorted by author, year, title) with author-year labels."""

    default_label_style = AuthorYearLabelStyle


register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


@node
def year_with_suffix(children, data) -> Text:
    """The year as the bibliography's label has it: ``2016a`` when two entries share
    ``He et al., 2016``."""
    assert not children
    year = data["entry"].fields.get("year", "n.d.")
    label = data["formatted_entry"].label
    suffix = label.rsplit(year, 1)[1] if year in label else ""
    return Text(year + suffix)


class _Parenthetical(BasicAuthorYearParentheticalReferenceStyle):
    def inner(self, role_name: str):
        return join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
            pre_text,
            reference[
                join(sep=self.author_year_sep)[
                    self.person.author_or_editor_or_title(full="s" in role_name),
                    year_with_suffix,
                ]
            ],
            post_text,
        ]


class _Textual(BasicAuthorYearTextualReferenceStyle):
    def inner(self, role_name: str):
        return join(sep=self.text_reference_sep)[
            self.person.author_or_editor_or_title(full="s" in role_name),
            join[
                self.bracket.left,
                join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
                    pre_text, reference[year_with_suffix], post_text
                ],
                self.bracket.right,
            ],
        ]


@dataclass
class AuthorYearSuffixReferenceStyle(AuthorYearReferenceStyle):
    """sphinxcontrib-bibtex's author_year, with the year suffixed as in the
    bibliography:
    {cite}`key` gives [He et al., 2016b], {cite:t}`key` gives He et al. [2016b].
    """

    def __post_init__(self):
        super().__post_init__()
        for i, style in enumerate(self.styles):
            if type(style) is BasicAuthorYearParentheticalReferenceStyle:
                self.styles[i] = _Parenthetical(
                    bracket=style.bracket,
                    person=style.person,
                    author_year_sep=style.author_year_sep,
                    pre_text_sep=style.pre_text_sep,
                    post_text_sep=style.post_text_sep,
                )
            elif type(style) is BasicAuthorYearTextualReferenceStyle:
                self.styles[i] = _Textual(
                    bracket=style.bracket,
                    person=style.person,
                    text_reference_sep=style.text_reference_sep,
                    pre_text_sep=style.pre_text_sep,
                    post_text_sep=style.post_text_sep,
                )
        # GroupReferenceStyle maps each role to its style in __post_init__: map them
        # again.
        self.role_style.update(
            (name, style)
            for style in self.styles
            if isinstance(style, (_Parenthetical, _Textual))
            for name in style.role_names()
        )


register_bibtex_plugin(
    "sphinxcontrib.bibtex.style.referencing",
    "author_year_suffix",
    AuthorYearSuffixReferenceStyle,
)


def _key(script: Any) -> tuple:
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return (
        str(filename),
        tuple(sorted((k, str(v)) for k, v in attributes.items())),
    )


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
    # in place: Sphinx restores the builder's list after the page
    scripts[:] = unique


def setup(app):
    # After every extension (myst-nb adds per-page scripts at the default priority 500).
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    # MathJax on every page, not only on pages with equations: the navigation shows the
    # chapter titles on every page, and a title with math would stay raw TeX elsewhere.
    app.set_html_assets_policy("always")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
