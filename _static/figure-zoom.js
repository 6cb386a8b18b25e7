// A figure opens larger when clicked or tapped: a phone shows figures at about half the
// width they were drawn for, and their text with them.  On a wide screen the figure fills
// the window; on a phone it opens at twice the width it had on the page, to pan and pinch.
// A click, a tap or Escape closes it.  (Sphinx links a figure with a :width: to its file;
// that link opens here too, instead of leaving the page.)
document.addEventListener("click", (event) => {
  const img = event.target.closest("div.cell_output img, figure img");
  const link = img && img.closest("a");
  if (!img || (link && !link.classList.contains("image-reference"))) return;
  event.preventDefault();
  const dialog = document.createElement("dialog");
  dialog.className = "figure-zoom";
  const large = new Image();
  large.src = img.currentSrc || img.src;
  large.alt = img.alt;
  if (window.matchMedia("(max-width: 767.98px)").matches) {
    large.style.width = `${2 * img.getBoundingClientRect().width}px`;
  }
  dialog.append(large);
  dialog.addEventListener("click", () => dialog.close());
  // Sphinx's sphinx_highlight.js cancels Escape's default, which would close the dialog.
  dialog.addEventListener("keydown", (e) => { if (e.key === "Escape") dialog.close(); });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
});
