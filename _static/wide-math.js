// Inline math cannot break across lines (MathJax 3 has no line breaking), so a formula
// wider than its line, like ch. 1's "F = Linear→BN→ReLU→Linear→BN" on a phone, ran off
// the page.  Such a formula gets the class wide-math: a box that scrolls sideways
// (_static/custom.css).  Display equations always scroll when they are too wide.
(() => {
  const mark = () => {
    const inline = 'mjx-container[jax="CHTML"]:not([display="true"])';
    document.querySelectorAll(inline).forEach((container) => {
      const math = container.firstElementChild; // <mjx-math>, as wide as the formula
      const line = container.parentElement.closest("p, li, dd, dt, td, th, figcaption, div");
      if (!math || !line) return;
      const style = getComputedStyle(line);
      const room =
        line.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      container.classList.toggle("wide-math", math.getBoundingClientRect().width > room);
    });
  };
  window.addEventListener("load", () => {
    if (!window.MathJax || !MathJax.startup) return;
    // Widths are final once MathJax has typeset the page and its fonts have loaded.
    MathJax.startup.promise.then(() => document.fonts.ready).then(mark);
    let timer;
    window.addEventListener("resize", () => {
      clearTimeout(timer);
      timer = setTimeout(mark, 200);
    });
  });
})();
