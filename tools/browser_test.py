"""Open every page of the built site in headless Chromium and check what a reader sees.

    python tools/browser_test.py [_build/html] [--screenshots _build/screenshots]

Serves the site on localhost and opens every page twice, as a 1280x900 desktop window
and as a 390x844 phone (touch, mobile viewport).  A problem is reported, and the exit
status is 1, when a page:

* logs a console error or throws, fails a request or asks another host for anything
  (the site must work offline), leaves math untypeset or raw TeX in its text, fails to
  load an image, does not draw a saved widget, or links to a missing page or #anchor;
* (1280) has a code cell wider than its column (the chapters' code is 82 characters
  wide, see tests/test_notebook_style.py), or shows "NBVAL" anywhere;
* (both) lets anything scroll sideways without a visible scrollbar, or cuts off or runs
  a display equation or inline math out of the text column;
* (both) has a slider that does not move or whose figure stays the same when it moves
  (the figure's pixels are compared before and after);
* (phone) has a hamburger that does not open the chapter list, or a contents button
  that does not open the page contents;
* (phone) wraps a printed table (a text output laid out in columns), has a table in the
  text wider than the column, or has a figure that does not open larger when tapped.

Then the search page, over http and over file://, must list results for "residual",
each with a snippet of page text: no ".pdf", no "Contents", no raw TeX, no console
error.  Full-page screenshots of every page at both sizes go to the screenshots folder,
with report.json, for a person to look at.

Uses Debian's ``chromium`` (or $CHROMIUM), driven by the Python ``playwright`` package;
it never downloads a browser.  tests/test_browser_test.py runs it on small sites with
one defect of each kind.
"""

from __future__ import annotations

import argparse
import functools
import html.parser
import json
import os
import re
import shutil
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-proxy-server",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]
# Playwright hides scrollbars in headless Chromium; readers see them, and so must we.
KEEP_SCROLLBARS = ["--hide-scrollbars"]
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
SEARCH_TERM = "residual"
SKIP_DIRS = {
    "_static",
    "_sources",
    "_images",
    "_downloads",
    "_sphinx_design_static",
}
# A printed line laid out in columns: indented, a run of spaces or a tab between words,
# box drawing.  The same definition as _ext/text_outputs.py (which lets the rest wrap).
COLUMNS = r"/^[ \t]+\S|\S[ \t]{2,}\S|\t|[\u2500-\u257f]/"
SNIPPET_JUNK = re.compile(r"\.pdf|Contents|\\[a-zA-Z]+|\\[(\[]|\$")

# Runs in the page: everything the content checks need, in one round trip.
INSPECT_JS = r"""
async () => {
  // Images below the fold may be lazy: load them all, then wait for each to finish.
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = "eager"; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
    i.addEventListener("load", r);
    i.addEventListener("error", r);
  })));
  // Math: Sphinx wraps every formula in .math; MathJax replaces it by <mjx-container>.
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  await document.fonts.ready;  // MathJax's web fonts load lazily, after typesetting
  const mathSpans = document.querySelectorAll(".math").length;
  const mjx = document.querySelectorAll("mjx-container").length;
  const mjxErrors = Array.from(document.querySelectorAll("mjx-merror"))
      .map(e => e.getAttribute("data-mjx-error") || e.textContent).slice(0, 5);
  // Raw TeX left in prose (not in code, where it may be legitimate).
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const skip = "pre, code, script, style, textarea, mjx-container, kbd, samp";
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest(skip)) continue;
    if (node.parentElement.closest(".cell_output, .output")) continue;
    const t = node.textContent;
    if (/\\\(|\\\[|\$\$|\\[a-zA-Z]+\{|\$\\[a-zA-Z]/.test(t)) {
      raw.push(t.trim().slice(0, 80));
    }
  }
  const images = imgs.map(i => ({
    src: (i.currentSrc || i.src).slice(0, 200),
    name: (i.currentSrc || i.src).startsWith("data:") ? `inline image "${i.alt}"`
        : (i.currentSrc || i.src).split("/").pop(),
    ok: i.complete && i.naturalWidth > 0,
    // A retina figure has twice the pixels of the width it is drawn for (its width).
    natural: parseFloat(i.getAttribute("width")) || parseFloat(i.style.width)
        || i.naturalWidth,
    shown: Math.round(i.getBoundingClientRect().width),
  }));
  // Widgets: the HTML manager inserts a .widget-subarea before each widget-view script.
  const view = 'script[type="application/vnd.jupyter.widget-view+json"]';
  const widgets = Array.from(document.querySelectorAll(view)).map(s => {
    const area = s.previousElementSibling;
    const drawn = !!area && area.classList.contains("widget-subarea")
        && area.children.length > 0;
    // A widget its own layout hides (a finished tqdm bar, leave=False) is drawn.
    const hidden = drawn
        && getComputedStyle(area.firstElementChild).visibility === "hidden";
    const height = drawn ? area.getBoundingClientRect().height : 0;
    return {drawn: drawn && (height > 0 || hidden), hidden};
  });
  // Printed output wider than the column scrolls sideways: worth a note, not a failure.
  const wide = Array.from(document.querySelectorAll("div.cell_output pre"))
      .filter(p => p.scrollWidth > p.clientWidth + 2).length;
  // Cells that draw a figure but whose stored output shows none (executed with
  // MPLBACKEND=agg, say).
  const drawsFigure =
      /plt\.(subplots|figure|show)\(|\bplot_\w+\(|\.imshow\(|^\s*fig\s*=/m;
  const noFigure = Array.from(document.querySelectorAll("div.cell")).filter(cell => {
    const input = cell.querySelector(".cell_input");
    if (!input || !drawsFigure.test(input.innerText)) return false;
    const out = cell.querySelector(".cell_output");
    return !out || !out.querySelector(`img, .widget-subarea, ${view}`);
  }).map(cell => (cell.querySelector(".cell_input").innerText.trim().split("\n")
                  .find(l => !l.startsWith("#")) || "").slice(0, 60));
  const links = Array.from(document.querySelectorAll("a[href]")).map(a => a.href);
  const state = 'script[type="application/vnd.jupyter.widget-state+json"]';
  return {mathSpans, mjx, mjxErrors, raw: raw.slice(0, 5), images, widgets, links,
          title: document.title, wide, noFigure,
          hasWidgetState: !!document.querySelector(state)};
}
"""

# Runs in the page at each window size: what does not fit, or scrolls out of sight.
LAYOUT_JS = (
    r"""
(phone) => {
  const COLUMNS = """
    + COLUMNS
    + r""";
  const problems = [];
  const short = (text) => JSON.stringify(text.trim().replace(/\s+/g, " ").slice(0, 70));
  const shown = (el) => el.getClientRects().length > 0
      && el.getBoundingClientRect().width > 0;
  const scrolls = (el) => /auto|scroll/.test(getComputedStyle(el).overflowX);
  const overflows = (el) => el.scrollWidth > el.clientWidth + 1;
  const scrollbar = (el) => {
    const cs = getComputedStyle(el);
    return el.offsetHeight - el.clientHeight
        - parseFloat(cs.borderTopWidth) - parseFloat(cs.borderBottomWidth) > 0;
  };
  // The text column: the article's content box.
  const column = document.querySelector("article.bd-article, article, main")
      || document.body;
  const cs = getComputedStyle(column);
  const rect = column.getBoundingClientRect();
  const left = rect.left + parseFloat(cs.paddingLeft);
  const right = rect.right - parseFloat(cs.paddingRight);
  const inColumn = (r) => r.left >= left - 1 && r.right <= right + 1;

  // Code cells fit their column at 1280 px.
  const code = Array.from(document.querySelectorAll("div.cell div.cell_input pre"));
  code.forEach((pre, i) => {
    if (phone || !shown(pre) || !overflows(pre)) return;
    const longest = pre.textContent.split("\n")
        .reduce((a, b) => (b.length > a.length ? b : a), "");
    problems.push(`code cell ${i + 1} of ${code.length} is wider than its column (its`
        + ` longest line has ${longest.length} characters: ${short(longest)})`);
  });

  // Whatever is wider than its box scrolls, with a scrollbar the reader can see.
  const boxes = "pre, div.cell_output .output, .pst-scrollable-table-container";
  document.querySelectorAll(boxes).forEach((el) => {
    if (!shown(el) || !overflows(el) || getComputedStyle(el).overflowX === "visible") {
      return;
    }
    const what = `${el.tagName.toLowerCase()} ${short(el.textContent)}`;
    if (!scrolls(el)) {
      problems.push(`${what} is cut off (overflow-x: hidden), it cannot scroll`);
    } else if (!scrollbar(el)) {
      problems.push(`${what} scrolls sideways without a visible scrollbar`);
    }
  });

  // Equations: neither clipped by a box nor running out of the text column.  A formula
  // may scroll inside its own box (the mjx-container, or the .math block around it).
  const tex = (m) => {
    try { return MathJax.startup.document.getMathItemsWithin(m)[0].math; }
    catch (e) { return m.textContent; }
  };
  const outside = "nav, .bd-sidebar-primary, .bd-sidebar-secondary, dialog";
  document.querySelectorAll("mjx-container").forEach((m) => {
    const math = m.querySelector("mjx-math") || m;
    if (!shown(math) || m.closest(outside)) return;
    const display = m.getAttribute("display") === "true";
    const kind = display ? "display equation" : "inline math";
    let box = math.getBoundingClientRect();
    let problem = null;
    for (let el = m; el && el !== column && !problem; el = el.parentElement) {
      if (getComputedStyle(el).overflowX === "visible") continue;
      const r = el.getBoundingClientRect();
      if (box.left >= r.left - 1 && box.right <= r.right + 1) continue;
      const own = el === m || (el === m.parentElement && el.classList.contains("math"));
      if (own && scrolls(el)) {  // it scrolls within its own box
        if (!scrollbar(el)) problem = "scrolls sideways without a visible scrollbar";
        box = r;
        continue;
      }
      const name = el.tagName.toLowerCase();
      const cls = el.classList[0] ? `.${el.classList[0]}` : "";
      problem = `is cut off by its ${name}${cls}`;
    }
    if (!problem && !inColumn(box)) problem = "runs out of the text column";
    if (problem) problems.push(`${kind} ${short(tex(m))} ${problem}`);
  });

  // Figures keep their shape when the column shrinks them.
  document.querySelectorAll("img").forEach((img) => {
    const r = img.getBoundingClientRect();
    if (!shown(img) || !img.naturalWidth || !r.height) return;
    const drawn = img.naturalWidth / img.naturalHeight;
    if (Math.abs(r.width / r.height / drawn - 1) > 0.03) {
      problems.push(`a figure is distorted: shown ${Math.round(r.width)}x`
          + `${Math.round(r.height)} px, drawn ${img.naturalWidth}x${img.naturalHeight}`
          + ` (${img.alt || img.src.split("/").pop().slice(0, 40)})`);
    }
  });

  if (phone) {
    // Printed tables keep their lines: wrapped, one is taller than its text unwrapped.
    document.querySelectorAll("div.cell_output pre").forEach((pre) => {
      const lines = pre.textContent.split("\n");
      if (!shown(pre) || !lines.some((l) => COLUMNS.test(l.trimEnd()))) return;
      const copy = pre.cloneNode(true);
      copy.style.setProperty("white-space", "pre", "important");
      copy.style.setProperty("overflow-x", "hidden", "important");
      pre.after(copy);
      const wrapped = pre.scrollHeight > copy.scrollHeight + 2;
      copy.remove();
      if (wrapped) problems.push(`a printed table wraps: ${short(pre.textContent)}`);
    });
    // Tables in the text fit the column (tables in outputs may scroll).
    column.querySelectorAll("table").forEach((table) => {
      const r = table.getBoundingClientRect();
      if (!shown(table) || table.closest(".cell_output") || inColumn(r)) return;
      const head = table.rows[0]
          ? Array.from(table.rows[0].cells, (c) => c.textContent.trim()).join(" | ")
          : table.textContent;
      problems.push(`a table is wider than the column (${Math.round(r.width)} px): `
          + short(head));
    });
  } else {
    // Test markers never reach the reader, not even in a collapsed solution.
    const text = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (!node.parentElement.closest("script, style")) text.push(node.textContent);
    }
    const found = text.join(" ").match(/.{0,30}NBVAL.{0,30}/);
    if (found) problems.push(`the page shows an nbval marker: ${short(found[0])}`);
  }
  return problems;
}
"""
)

# True when a link matching the selector is on screen and not covered by anything.
ON_SCREEN_JS = r"""
(selector) => Array.from(document.querySelectorAll(selector)).some((a) => {
  const r = a.getBoundingClientRect();
  if (!r.width || !r.height || r.bottom < 0 || r.right < 0
      || r.top > innerHeight || r.left > innerWidth) return false;
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return !!hit && (a === hit || a.contains(hit) || hit.contains(a));
})
"""
NAVIGATION = [
    # (button, a link it must bring on screen, the button's name, what that shows)
    (".primary-toggle", "nav.bd-docs-nav a", "the hamburger", "the chapter list"),
    (
        ".secondary-toggle",
        "nav.page-toc a",
        "the contents button",
        "the page contents",
    ),
]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output readable
        pass


def serve(site: Path) -> tuple[ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.redirect: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "refresh":
            m = re.search(r"url=(.+)", a.get("content") or "", re.I)
            self.redirect = m.group(1).strip() if m else None


@functools.lru_cache(maxsize=None)
def parse_page(path: Path) -> _Ids:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def pages_of(site: Path) -> list[Path]:
    return sorted(
        p
        for p in site.rglob("*.html")
        if not SKIP_DIRS.intersection(p.relative_to(site).parts[:-1])
    )


def chromium_path() -> str | None:
    """$CHROMIUM, or Debian's chromium (or another Chromium/Chrome) on the PATH."""
    for candidate in (
        os.environ.get("CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def find_chromium() -> str:
    path = chromium_path()
    if path is None:
        sys.exit(
            "browser test: no Chromium found. Install Debian's package (sudo apt-get"
            " install chromium) or point $CHROMIUM at a Chromium/Chrome binary."
        )
    return path


def check_link(href: str, base: str, site: Path, page: Path) -> str | None:
    """A problem with an internal link, or None; other hosts are not checked (no
    network)."""
    parts = urlsplit(href)
    if (
        parts.scheme not in ("http", "https")
        or f"{parts.scheme}://{parts.netloc}" != base
    ):
        return None
    target = site / unquote(parts.path).lstrip("/")
    if target.is_dir():
        target = target / "index.html"
    if not target.exists():
        return f"broken link {href} (no {target.relative_to(site)})"
    if parts.fragment and target.suffix == ".html":
        if unquote(parts.fragment) not in parse_page(target).ids:
            return f"link {href}: {target.relative_to(site)} has no #{parts.fragment}"
    return None


def wait_for(page, js: str, arg=None, seconds: float = 2.0) -> bool:
    try:
        page.wait_for_function(js, arg=arg, timeout=seconds * 1000)
        return True
    except Exception:
        return False


def check_navigation(page, problem) -> None:
    """On a phone: each visible toggle opens what it is for (and closes again)."""
    for button, target, name, what in NAVIGATION:
        visible = [b for b in page.locator(button).all() if b.is_visible()]
        if not visible:
            if button == ".primary-toggle":
                problem(f"phone: no button opens {what}")
            continue
        visible[0].tap()
        if not wait_for(page, ON_SCREEN_JS, target):
            problem(f"phone: tapping {name} does not open {what}")
            continue
        page.keyboard.press("Escape")
        if not wait_for(page, f"s => !({ON_SCREEN_JS})(s)", target):
            problem(f"phone: Escape does not close {what}")
            page.reload(wait_until="load")


def slider_value(slider) -> str:
    return slider.evaluate(
        "s => s.getAttribute('aria-valuetext') || s.getAttribute('aria-valuenow')"
        " || s.value"
    )


# The pixels of the images an element shows, as hashes: each image is drawn into a
# canvas, so that whatever covers it on the screen (a sticky header) does not count.
PIXELS_JS = r"""
(output) => Array.from(output.querySelectorAll("img"))
  .filter((img) => img.getClientRects().length)
  .map((img) => {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let hash = 0;
    for (let k = 0; k < data.length; k += 1) hash = (hash * 31 + data[k]) | 0;
    return `${canvas.width}x${canvas.height}:${hash}`;
  })
"""


def check_sliders(page, problem, size: str) -> int:
    """Each slider moves, and the pixels of its figure (the images in its output) change
    with it."""
    sliders = page.locator("input[type=range], [role=slider]")
    count = sliders.count()
    for i in range(count):
        slider = sliders.nth(i)
        output = slider.locator(
            "xpath=ancestor::div[contains(concat(' ', @class, ' '), ' cell_output ')]"
        ).last
        if output.count() == 0:
            output = slider.locator("xpath=..")
        name = f"{size}: slider {i + 1} of {count}"
        before = output.evaluate(PIXELS_JS)
        if not before:
            problem(f"{name} has no figure in its output")
            continue
        value = slider_value(slider)
        slider.focus()
        for key in ("End", "Home"):
            page.keyboard.press(key)
            if slider_value(slider) != value:
                break
        page.wait_for_timeout(200)
        moved_to = slider_value(slider)
        if moved_to == value:
            problem(f"{name} does not move (its value stays {value})")
        elif output.evaluate(PIXELS_JS) == before:
            problem(
                f"{name}: moving it from {value} to {moved_to} does not change its"
                " figure"
            )
    return count


def check_figure_zoom(page, problem) -> None:
    """On a phone: tapping a figure shows it larger."""
    figure = page.locator("div.cell_output img:visible, figure img:visible").first
    if figure.count() == 0:
        return
    url = page.url
    figure.scroll_into_view_if_needed()
    src = figure.evaluate("i => i.currentSrc || i.src")
    width = figure.bounding_box()["width"]
    figure.tap()
    larger = """([src, width]) => Array.from(document.images).some((i) =>
        (i.currentSrc || i.src) === src
        && i.getBoundingClientRect().width > 1.3 * width)"""
    if not wait_for(page, larger, [src, width]):
        problem("phone: tapping a figure does not open it larger")
    else:
        page.keyboard.press("Escape")
        if wait_for(page, f"a => !({larger})(a)", [src, width]):
            return
        problem("phone: Escape does not close the enlarged figure")
    page.goto(url, wait_until="load")  # the tap may have left the page


def check_search(page, url: str, problem) -> int:
    """The results for SEARCH_TERM, each with a snippet of page text."""
    page.goto(url, wait_until="load")
    try:
        page.wait_for_selector("ul.search li", timeout=10_000)
    except Exception:
        problem(f"search for {SEARCH_TERM!r} returned no result")
        return 0
    page.wait_for_timeout(500)  # results and their snippets appear one by one
    wait_for(
        page,
        "() => Array.from(document.querySelectorAll('ul.search li'))"
        ".every(li => li.querySelector('p.context'))",
        seconds=5,
    )
    items = page.locator("ul.search li").all()
    for item in items:
        title = item.locator("a").first.inner_text()
        context = item.locator("p.context")
        if context.count() == 0:
            problem(f"search result {title!r} has no snippet of its page's text")
            continue
        text = context.first.inner_text()
        junk = SNIPPET_JUNK.search(text)
        if junk:
            problem(
                f"search result {title!r}: its snippet shows {junk.group()!r}, not page"
                f" text: {text[:120]!r}"
            )
    return len(items)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "site", nargs="?", type=Path, default=ROOT / "_build" / "html"
    )
    parser.add_argument(
        "--screenshots",
        type=Path,
        default=None,
        help="folder for the screenshots (default: <site>/../screenshots)",
    )
    parser.add_argument(
        "--timeout", type=float, default=20.0, help="seconds per page"
    )
    args = parser.parse_args()
    site = args.site.resolve()
    if not (site / "index.html").exists():
        sys.exit(
            f"browser test: {site} has no index.html; build the site first (make"
            " build-strict)"
        )
    shots = (args.screenshots or site.parent / "screenshots").resolve()
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)

    from playwright.sync_api import sync_playwright

    start = time.perf_counter()
    server, base = serve(site)
    problems: list[str] = []
    report: dict[str, dict] = {}
    current = {"page": ""}

    def problem(msg: str) -> None:
        problems.append(f"{current['page']}: {msg}")

    def on_route(route):
        url = route.request.url
        if url.startswith((base + "/", "data:", "blob:", "file:")):
            route.continue_()
        else:
            problem(
                f"request to another host (the site must work offline): {url}"
            )
            route.abort()

    def on_response(response):
        if response.status >= 400:
            problem(f"HTTP {response.status} for {response.url}")

    def on_failed(request):
        if request.url.startswith((base, "file:")):
            problem(f"request failed ({request.failure}): {request.url}")

    def on_console(msg):
        if msg.type == "error":
            problem(f"console error: {msg.text}")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=find_chromium(),
            args=CHROMIUM_ARGS,
            ignore_default_args=KEEP_SCROLLBARS,
        )
        tabs = {}
        for size, options in (("desktop", DESKTOP), ("phone", PHONE)):
            context = browser.new_context(**options, service_workers="block")
            context.route("**/*", on_route)
            tab = context.new_page()
            tab.set_default_timeout(args.timeout * 1000)
            tab.on("response", on_response)
            tab.on("requestfailed", on_failed)
            tab.on("console", on_console)
            tab.on("pageerror", lambda exc: problem(f"uncaught exception: {exc}"))
            tabs[size] = tab
        page, phone = tabs["desktop"], tabs["phone"]

        for path in pages_of(site):
            rel = path.relative_to(site).as_posix()
            current["page"] = rel
            redirect = parse_page(path).redirect
            if redirect:  # the root index.html only forwards to the landing page
                if not (path.parent / redirect.split("#")[0]).exists():
                    problem(f"redirects to a missing page: {redirect}")
                report[rel] = {"redirect": redirect}
                continue
            if rel == "search.html":
                continue  # checked below, with a query
            t0 = time.perf_counter()
            page.goto(f"{base}/{rel}", wait_until="load")
            info = page.evaluate(INSPECT_JS)
            if info["hasWidgetState"]:
                # embed.js renders on window load; give it time to draw every view.
                wait_for(
                    page,
                    """() => Array.from(document.querySelectorAll(
                        'script[type="application/vnd.jupyter.widget-view+json"]'))
                      .every(s => s.previousElementSibling && s.previousElementSibling
                                  .classList.contains('widget-subarea'))""",
                    seconds=args.timeout,
                )
                info = page.evaluate(INSPECT_JS)
            if info["mathSpans"] and info["mjx"] < info["mathSpans"]:
                problem(
                    f"math not typeset: {info['mjx']} MathJax outputs for"
                    f" {info['mathSpans']} formulas"
                )
            for err in info["mjxErrors"]:
                problem(f"MathJax error: {err}")
            for text in info["raw"]:
                problem(f"raw TeX in the text: {text!r}")
            if re.search(r"\\[(\[]|\$|\\[a-zA-Z]+\{", info["title"]):
                problem(
                    "raw TeX in the page title (browser tab, search results):"
                    f" {info['title']!r}; write the heading without math"
                )
            for img in info["images"]:
                if not img["ok"]:
                    problem(f"image did not load: {img['src']}")
            if info["hasWidgetState"] and not info["widgets"]:
                problem("the page has widget state but no widget view")
            for i, w in enumerate(info["widgets"]):
                if not w["drawn"]:
                    problem(
                        f"widget {i + 1} of {len(info['widgets'])} is not drawn from"
                        " its saved state"
                    )
            seen = set()
            for href in info["links"]:
                if href in seen:
                    continue
                seen.add(href)
                msg = check_link(href, base, site, path)
                if msg:
                    problem(msg)
            for msg in page.evaluate(LAYOUT_JS, False):
                problem(f"desktop: {msg}")
            page.wait_for_load_state("networkidle")
            shot = rel.replace("/", "__")[:-5]
            page.screenshot(path=str(shots / f"{shot}.png"), full_page=True)
            sliders = check_sliders(page, problem, "desktop")

            phone.goto(f"{base}/{rel}", wait_until="load")
            phone.evaluate(INSPECT_JS)  # math typeset, fonts and images loaded
            for msg in phone.evaluate(LAYOUT_JS, True):
                problem(f"phone: {msg}")
            phone.wait_for_load_state("networkidle")
            phone.screenshot(
                path=str(shots / f"phone__{shot}.png"), full_page=True
            )
            check_navigation(phone, problem)
            check_figure_zoom(phone, problem)
            check_sliders(phone, problem, "phone")

            report[rel] = {
                "title": info["title"],
                "formulas": info["mathSpans"],
                "mathjax": info["mjx"],
                "images": len(info["images"]),
                "widgets": len(info["widgets"]),
                "sliders": sliders,
                "hidden_widgets": sum(w["hidden"] for w in info["widgets"]),
                "wide_output_blocks": info["wide"],
                "figure_cells_without_figure": info["noFigure"],
                "small_images": [
                    i["name"]
                    for i in info["images"]
                    if i["natural"] > 800 and 0 < i["shown"] < 0.75 * i["natural"]
                ],
                "seconds": round(time.perf_counter() - t0, 2),
            }

        # The search page: Sphinx's searchtools fills ul.search from searchindex.js.
        for where, url, shot in (
            ("http", f"{base}/search.html?q={SEARCH_TERM}", "search"),
            (
                "file://",
                f"{(site / 'search.html').as_uri()}?q={SEARCH_TERM}",
                "search_file",
            ),
        ):
            current["page"] = f"search.html?q={SEARCH_TERM} ({where})"
            hits = check_search(page, url, problem)
            # let MathJax and the images finish before leaving
            page.evaluate(INSPECT_JS)
            page.screenshot(path=str(shots / f"{shot}.png"), full_page=True)
            report[f"search.html ({where})"] = {
                "query": SEARCH_TERM,
                "results": hits,
            }
        browser.close()
    server.shutdown()

    seconds = time.perf_counter() - start
    (shots / "report.json").write_text(
        json.dumps(
            {"seconds": round(seconds, 1), "problems": problems, "pages": report},
            indent=1,
        )
    )
    checked = sum(1 for v in report.values() if "title" in v)
    where = shots.relative_to(ROOT) if shots.is_relative_to(ROOT) else shots
    print(
        f"browser test: {checked} pages at 1280x900 and 390x844 and the search checked"
        f" in {seconds:.1f} s; screenshots in {where}"
    )
    for rel, info in report.items():
        if info.get("small_images"):
            print(
                f"  note: {rel}: figures shrunk below 75% of their width (their text"
                " shrinks too; see resnet_course.plotting.use_book_style):"
                f" {info['small_images']}"
            )
        for first_line in info.get("figure_cells_without_figure", []):
            print(
                f"  note: {rel}: a cell draws a figure but its stored output shows"
                f" none: {first_line!r}"
            )
        if info.get("wide_output_blocks"):
            print(
                f"  note: {rel}: {info['wide_output_blocks']} printed outputs are wider"
                " than the column at 1280 px and scroll sideways"
            )
    if problems:
        print(f"browser test FAILED, {len(problems)} problem(s):")
        for msg in problems:
            print(f"  {msg}")
        return 1
    print("browser test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
