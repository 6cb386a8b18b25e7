// Search results show a snippet of the page's own text.  Sphinx's summaries are off
// (html_show_search_summary in _config.yml): they fetch every result page, which browsers
// refuse over file:// (CORS errors), and cut the snippet from the whole page, theme
// buttons (".pdf", "Contents") and raw TeX included.  The search page loads each page's
// prose instead, written by _ext/search_snippets.py as window.BOOK_SEARCH_TEXT:
// {docname: {text, sections: {id: [start, end]}}}.
document.addEventListener("DOMContentLoaded", () => {
  const pages = window.BOOK_SEARCH_TEXT;
  const results = document.getElementById("search-results");
  if (!pages || !results) return;
  const query = new URLSearchParams(window.location.search).get("q") || "";
  // Sphinx matches word stems ("residual" finds "residuals"): look for a stem too.
  const words = query.toLowerCase().split(/\s+/).filter(Boolean)
    .flatMap((w) => [w, w.slice(0, Math.max(4, w.length - 3))]);
  const escape = (w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = words.length ? new RegExp(`(${words.map(escape).join("|")})`, "gi") : null;

  const snippet = (text) => {
    const lower = text.toLowerCase();
    const hits = words.map((w) => lower.indexOf(w)).filter((i) => i >= 0);
    let start = hits.length ? Math.max(0, Math.min(...hits) - 100) : 0;
    if (start > 0) start = text.indexOf(" ", start) + 1; // begin at a word
    let end = Math.min(text.length, start + 240);
    if (end < text.length) end = Math.max(text.lastIndexOf(" ", end), start + 1);
    return (start > 0 ? "… " : "") + text.slice(start, end).trim()
      + (end < text.length ? " …" : "");
  };

  const addSnippet = (item) => {
    const link = item.querySelector("a");
    if (!link || item.querySelector("p.context")) return;
    const [path, anchor] = link.getAttribute("href").split("#");
    const page = pages[path.replace(/\.html$/, "")];
    if (!page) return;
    const [start, end] = (anchor && page.sections[anchor]) || [0, page.text.length];
    let text = page.text.slice(start, end);
    const title = link.textContent.trim();
    if (text.startsWith(title)) text = text.slice(title.length).trim(); // shown above it
    const summary = document.createElement("p");
    summary.className = "context";
    for (const part of snippet(text).split(pattern || /$^/)) {
      if (pattern && words.includes(part.toLowerCase())) {
        const mark = summary.appendChild(document.createElement("span"));
        mark.className = "highlighted";
        mark.textContent = part;
      } else {
        summary.append(part);
      }
    }
    item.append(summary);
  };

  const update = () => results.querySelectorAll("ul.search li").forEach(addSnippet);
  new MutationObserver(update).observe(results, { childList: true, subtree: true });
  update();
});
