"""Search results with a snippet of the page's prose, also when the site is opened over
file://.

Sphinx's search page fetches the HTML of every result to cut a snippet from it.  Over
file:// browsers refuse those requests (CORS errors); over http the snippet came from
the whole page: the theme's buttons ("….pdf", "Contents") and raw TeX.  This extension
writes each page's prose -- the text of its sections, math as plain text, no code and no
outputs -- to ``_static/search-snippets-data.js``, which only the search page loads, and
turns Sphinx's own summaries off; ``_static/search-snippets.js`` makes the snippets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes

DATA_JS = "search-snippets-data.js"
SKIP = (
    nodes.literal_block,
    nodes.raw,
    nodes.comment,
    nodes.system_message,
    nodes.image,
    nodes.substitution_definition,
    nodes.target,
    addnodes.toctree,
)
BLOCKS = (
    nodes.Body,
    nodes.Structural,
    nodes.Titular,
    nodes.entry,
    nodes.list_item,
    nodes.label,
)

GREEK = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron"
    " pi rho sigma tau upsilon phi chi psi omega"
).split()
SYMBOLS = {
    **{name: chr(0x3B1 + i) for i, name in enumerate(GREEK) if name != "omicron"},
    **{n.capitalize(): chr(0x391 + GREEK.index(n)) for n in "gamma delta theta lambda"
       " xi pi sigma phi psi omega".split()},
    "varepsilon": "ε", "varphi": "φ", "ell": "ℓ", "partial": "∂", "nabla": "∇",
    "times": "×", "cdot": "·", "to": "→", "rightarrow": "→", "leftarrow": "←",
    "mapsto": "↦", "sum": "∑", "prod": "∏", "int": "∫", "infty": "∞", "approx": "≈",
    "neq": "≠", "ne": "≠", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "in": "∈",
    "pm": "±", "ldots": "…", "cdots": "⋯", "dots": "…", "prime": "′", "circ": "∘",
    "odot": "⊙", "otimes": "⊗", "top": "⊤", "mid": "|", "lVert": "‖", "rVert": "‖",
    "Vert": "‖", "langle": "⟨", "rangle": "⟩", "quad": " ", "qquad": " ",
}  # fmt: skip
SUB = str.maketrans(
    "0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"
)
SUP = str.maketrans("0123456789+-=()in", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁱⁿ")
# A command with an argument keeps only the argument: \mathbf{x}, \text{ReLU}, \hat{y}.
COMMAND = r"\\(?!frac|binom|sqrt)[A-Za-z]+\s*"


def _script(base: str, arg: str, table: dict, mark: str) -> str:
    if arg and all(ord(c) in table for c in arg):  # x_{l+1} -> xₗ₊₁
        return base + arg.translate(table)
    return f"{base}{mark}({arg})" if len(arg) > 1 else f"{base}{mark}{arg}"


def tex_to_text(tex: str) -> str:
    r"""TeX as readable plain text: ``\mathbf{x}_{l+1}`` gives ``xₗ₊₁``."""
    text = tex.replace(r"\{", "\0").replace(r"\}", "\1").replace(r"\|", "‖")
    text = re.sub(r"\\([A-Za-z]+)", lambda m: SYMBOLS.get(m[1], m[0]), text)
    innermost = r"\{([^{}]*)\}"
    while True:  # from the innermost braces out
        before = text
        text = re.sub(
            r"\\frac\s*" + innermost + r"\s*" + innermost, _fraction, text
        )
        text = re.sub(
            r"\\binom\s*" + innermost + r"\s*" + innermost, r"C(\1, \2)", text
        )
        text = re.sub(r"\\sqrt\s*" + innermost, lambda m: f"√({m[1]})", text)
        text = re.sub(COMMAND + innermost, r"\1", text)
        for mark, table in (("_", SUB), ("^", SUP)):
            text = re.sub(
                r"(\S?)" + re.escape(mark) + r"(?:" + innermost + r"|(\w))",
                lambda m: _script(
                    m[1], m[2] if m[2] is not None else m[3], table, mark
                ),
                text,
            )
        if text == before:
            break
    text = re.sub(r"[{}]", "", text)
    text = re.sub(r"\\(?:left|right|[bB]igg?)\b|\\[,;:!]|\\\\|&", " ", text)
    text = re.sub(r"\\([A-Za-z]+)", r"\1", text).replace("\\", "")
    text = text.replace("\0", "{").replace("\1", "}")
    return re.sub(r"\s+", " ", text).strip()


def _fraction(m: re.Match) -> str:
    top, bottom = (s if len(s.strip()) <= 1 else f"({s})" for s in (m[1], m[2]))
    return f"{top}/{bottom}"


class _Prose:
    """The page's text, whitespace collapsed, and where each section starts and ends."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.sections: dict[str, list[int]] = {}

    def add(self, text: str) -> None:
        text = re.sub(r"\s+", " ", text)
        if not self.parts or self.parts[-1].endswith(" "):
            text = text.lstrip()
        if text:
            self.parts.append(text)
            self.length += len(text)

    def walk(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Text):
            self.add(str(node))
            return
        if isinstance(node, SKIP) or "cell_output" in node.get("classes", ()):
            return
        if isinstance(node, nodes.math):
            self.add(tex_to_text(node.astext()))
            return
        if isinstance(node, nodes.math_block):
            self.add(f" {tex_to_text(node.astext())} ")
            return
        start = self.length
        for child in node.children:
            self.walk(child)
        if isinstance(node, BLOCKS) and not isinstance(node, nodes.Inline):
            # between paragraphs, items, cells (a reference is inline)
            self.add(" ")
        if isinstance(node, nodes.section):
            for section_id in node["ids"]:
                self.sections[section_id] = [start, self.length]


def page_prose(doctree: nodes.document) -> dict:
    prose = _Prose()
    prose.walk(doctree)
    return {"text": "".join(prose.parts).strip(), "sections": prose.sections}


def add_data_to_search_page(
    app, pagename, templatename, context, doctree
) -> None:
    if pagename == "search":
        app.add_js_file(DATA_JS)  # called here, it is added to this page only


def write_data(app, exception) -> None:
    if exception or app.builder.format != "html":
        return
    env = app.builder.env
    pages = {
        docname: page_prose(env.get_and_resolve_doctree(docname, app.builder))
        for docname in sorted(env.found_docs)
    }
    out = Path(app.outdir, "_static", DATA_JS)
    out.write_text(
        "window.BOOK_SEARCH_TEXT = "
        + json.dumps(pages, ensure_ascii=False)
        + ";\n",
        encoding="utf-8",
    )


def setup(app):
    # _config.yml sets html_show_search_summary: false, so Sphinx fetches no page.
    app.connect("html-page-context", add_data_to_search_page)
    app.connect("build-finished", write_data)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
