// Phone navigation.  pydata-sphinx-theme 0.17.1 opens the chapter list and the page
// contents (its sidebar dialogs) only from the FIRST .primary-toggle / .secondary-toggle
// of a page: setupMobileSidebarKeyboardHandlers() uses querySelector.  sphinx-book-theme
// 1.3.0 renders a second pair, in the article header, and that is the pair readers see on
// a phone, so tapping the hamburger only showed its tooltip (pydata-sphinx-theme issue
// 2451, sphinx-book-theme issue 988).  Each later button hands its click to the first one,
// which the themes wire (a dialog on narrow screens, sphinx-book-theme's collapsing
// sidebar on wide ones).
// Remove this file once the pinned themes wire every toggle; tools/browser_test.py checks
// on a 390 px phone that both buttons open what they should, with or without it.
document.addEventListener("DOMContentLoaded", () => {
  for (const selector of [".primary-toggle", ".secondary-toggle"]) {
    const [first, ...others] = document.querySelectorAll(selector);
    for (const button of others) {
      button.addEventListener(
        "click",
        (event) => {
          event.preventDefault();
          event.stopImmediatePropagation(); // a fixed theme's own handler would open it twice
          first.click();
        },
        true, // capture: before any handler the theme adds to this button
      );
    }
  }
});
