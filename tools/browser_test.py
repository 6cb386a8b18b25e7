"""Open every page of the built site in headless Chromium and check what a reader would see.

    python tools/browser_test.py [_build/html] [--screenshots _build/screenshots]

Serves the site on localhost and, for every page: no console errors or uncaught exceptions,
no failed request and no request to any other host (the site must work offline), math typeset
by MathJax (output elements present, no MathJax error, no raw ``\\(`` or ``$$`` left in the
text), every image loaded, every saved widget drawn, every internal link and #anchor resolving.
Then the search page must return a result for "residual".  A full-page screenshot of every page
goes to the screenshots folder (with report.json), for a person to look at.

Uses Debian's ``chromium`` (or $CHROMIUM), driven by the Python ``playwright`` package; it
never downloads a browser.  Exit status 1 lists every problem found.
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
VIEWPORT = {"width": 1280, "height": 900}
SEARCH_TERM = "residual"
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads", "_sphinx_design_static"}

# Runs in the page: everything the checks need, in one round trip.
INSPECT_JS = r"""
async () => {
  // Images below the fold may be lazy: load them all, then wait for each to finish.
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = "eager"; });
  await Promise.all(imgs.map(i => i.complete ? null :
      new Promise(r => { i.addEventListener("load", r); i.addEventListener("error", r); })));
  // Math: Sphinx wraps every formula in .math; MathJax replaces its text by <mjx-container>.
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
  const skip = "PRE,CODE,SCRIPT,STYLE,TEXTAREA,MJX-CONTAINER,KBD,SAMP";
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest(skip.toLowerCase())) continue;
    if (node.parentElement.closest(".cell_output, .output")) continue;
    const t = node.textContent;
    if (/\\\(|\\\[|\$\$|\\[a-zA-Z]+\{|\$\\[a-zA-Z]/.test(t)) raw.push(t.trim().slice(0, 80));
  }
  const images = imgs.map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0,
                                  natural: i.naturalWidth, shown: Math.round(i.getBoundingClientRect().width)}));
  // Widgets: the HTML manager inserts a .widget-subarea before each widget-view script.
  const views = Array.from(document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"]'));
  const widgets = views.map(s => {
    const area = s.previousElementSibling;
    const drawn = !!area && area.classList.contains("widget-subarea") && area.children.length > 0;
    // A widget its own layout hides (a finished tqdm bar with leave=False) is drawn, not shown.
    const hidden = drawn && getComputedStyle(area.firstElementChild).visibility === "hidden";
    const height = drawn ? area.getBoundingClientRect().height : 0;
    return {drawn: drawn && (height > 0 || hidden), hidden};
  });
  // Code and printed output wider than the column scroll sideways: worth a note, not a failure.
  const wide = Array.from(document.querySelectorAll("div.cell div.highlight pre, div.cell_output pre"))
      .filter(p => p.scrollWidth > p.clientWidth + 2).length;
  // Cells that draw a figure but whose stored output shows none (e.g. executed with MPLBACKEND=agg).
  const drawsFigure = /plt\.(subplots|figure|show)\(|\bplot_\w+\(|\.imshow\(|^\s*fig\s*=/m;
  const noFigure = Array.from(document.querySelectorAll("div.cell")).filter(cell => {
    const input = cell.querySelector(".cell_input");
    if (!input || !drawsFigure.test(input.innerText)) return false;
    const out = cell.querySelector(".cell_output");
    return !out || !out.querySelector("img, .widget-subarea, script[type='application/vnd.jupyter.widget-view+json']");
  }).map(cell => (cell.querySelector(".cell_input").innerText.trim().split("\n")
                  .find(l => !l.startsWith("#")) || "").slice(0, 60));
  const links = Array.from(document.querySelectorAll("a[href]")).map(a => a.href);
  const title = document.title;
  return {mathSpans, mjx, mjxErrors, raw: raw.slice(0, 5), images, widgets, links, title, wide, noFigure,
          hasWidgetState: !!document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]')};
}
"""


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
    """A problem with an internal link, or None; other hosts are not checked (no network)."""
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument(
        "--screenshots",
        type=Path,
        default=None,
        help="folder for the screenshots (default: <site>/../screenshots)",
    )
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per page")
    args = parser.parse_args()
    site = args.site.resolve()
    if not (site / "index.html").exists():
        sys.exit(
            f"browser test: {site} has no index.html; build the site first (make build-strict)"
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
        if (
            url.startswith(base + "/")
            or url.startswith("data:")
            or url.startswith("blob:")
        ):
            route.continue_()
        else:
            problem(f"request to another host (the site must work offline): {url}")
            route.abort()

    def on_response(response):
        if response.status >= 400:
            problem(f"HTTP {response.status} for {response.url}")

    def on_failed(request):
        if request.url.startswith(base):
            problem(f"request failed ({request.failure}): {request.url}")

    def on_console(msg):
        if msg.type == "error":
            problem(f"console error: {msg.text}")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=find_chromium(), args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport=VIEWPORT, service_workers="block")
        context.route("**/*", on_route)
        page = context.new_page()
        page.set_default_timeout(args.timeout * 1000)
        page.on("response", on_response)
        page.on("requestfailed", on_failed)
        page.on("console", on_console)
        page.on("pageerror", lambda exc: problem(f"uncaught exception: {exc}"))

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
                try:
                    page.wait_for_function(
                        """() => Array.from(document.querySelectorAll(
                               'script[type="application/vnd.jupyter.widget-view+json"]'))
                             .every(s => s.previousElementSibling &&
                                    s.previousElementSibling.classList.contains('widget-subarea'))""",
                        timeout=args.timeout * 1000,
                    )
                except Exception:
                    pass
                info = page.evaluate(INSPECT_JS)
            if info["mathSpans"] and info["mjx"] < info["mathSpans"]:
                problem(
                    f"math not typeset: {info['mjx']} MathJax outputs for {info['mathSpans']} formulas"
                )
            for err in info["mjxErrors"]:
                problem(f"MathJax error: {err}")
            for text in info["raw"]:
                problem(f"raw TeX in the text: {text!r}")
            if re.search(r"\\[(\[]|\$|\\[a-zA-Z]+\{", info["title"]):
                problem(
                    f"raw TeX in the page title (browser tab, search results): {info['title']!r}; "
                    f"write the heading without math"
                )
            for img in info["images"]:
                if not img["ok"]:
                    problem(f"image did not load: {img['src']}")
            if info["hasWidgetState"] and not info["widgets"]:
                problem("the page has widget state but no widget view")
            for i, w in enumerate(info["widgets"]):
                if not w["drawn"]:
                    problem(
                        f"widget {i + 1} of {len(info['widgets'])} is not drawn from its saved state"
                    )
            seen = set()
            for href in info["links"]:
                if href in seen:
                    continue
                seen.add(href)
                msg = check_link(href, base, site, path)
                if msg:
                    problem(msg)
            page.wait_for_load_state(
                "networkidle"
            )  # nothing still loading when the page is left
            page.screenshot(
                path=str(shots / (rel.replace("/", "__")[:-5] + ".png")), full_page=True
            )
            report[rel] = {
                "title": info["title"],
                "formulas": info["mathSpans"],
                "mathjax": info["mjx"],
                "images": len(info["images"]),
                "widgets": len(info["widgets"]),
                "hidden_widgets": sum(w["hidden"] for w in info["widgets"]),
                "wide_code_or_output_blocks": info["wide"],
                "figure_cells_without_figure": info["noFigure"],
                "small_images": [
                    i["src"].rsplit("/", 1)[-1]
                    for i in info["images"]
                    if i["natural"] > 800 and i["shown"] < 0.75 * i["natural"]
                ],
                "seconds": round(time.perf_counter() - t0, 2),
            }

        # The search page: Sphinx's searchtools fills ul.search from searchindex.js.
        current["page"] = f"search.html?q={SEARCH_TERM}"
        page.goto(f"{base}/search.html?q={SEARCH_TERM}", wait_until="load")
        try:
            page.wait_for_selector("ul.search li", timeout=args.timeout * 1000)
            hits = page.locator("ul.search li").count()
        except Exception:
            hits = 0
        page.evaluate(
            INSPECT_JS
        )  # let MathJax, its fonts and the images finish before leaving
        page.wait_for_load_state("networkidle")
        if hits == 0:
            problem(f"search for {SEARCH_TERM!r} returned no result")
        page.screenshot(path=str(shots / "search.png"), full_page=True)
        report["search.html"] = {"query": SEARCH_TERM, "results": hits}
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
    print(
        f"browser test: {checked} pages and the search checked in {seconds:.1f} s; "
        f"screenshots in {shots.relative_to(ROOT) if shots.is_relative_to(ROOT) else shots}"
    )
    for rel, info in report.items():
        if info.get("small_images"):
            print(
                f"  note: {rel}: figures shrunk below 75% of their width (their text shrinks too; "
                f"use a figsize of about 7 inches wide): {info['small_images']}"
            )
        for first_line in info.get("figure_cells_without_figure", []):
            print(
                f"  note: {rel}: a cell draws a figure but its stored output shows none: {first_line!r}"
            )
        if info.get("wide_code_or_output_blocks"):
            print(
                f"  note: {rel}: {info['wide_code_or_output_blocks']} code/output blocks are wider "
                f"than the column at {VIEWPORT['width']} px and scroll sideways"
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
