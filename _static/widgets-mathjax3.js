// The ipywidgets HTML manager typesets widget labels through the MathJax 2 API
// (MathJax.Hub.Queue); this site loads MathJax 3, which has no Hub, so every widget threw
// "Cannot read properties of undefined (reading 'Queue')".  Give it a Hub that forwards to
// MathJax 3.  MathJax 3 replaces window.MathJax when its (deferred) script runs, which is
// before DOMContentLoaded; the widgets are drawn on window load, after that.
(function () {
  function install() {
    var mj = window.MathJax;
    if (!mj || mj.Hub || typeof mj.typesetPromise !== "function") return;
    mj.Hub = {
      Queue: function (job) {
        var element = Array.isArray(job) ? job[2] : null;
        var ready = (mj.startup && mj.startup.promise) || Promise.resolve();
        ready.then(function () { return mj.typesetPromise(element ? [element] : undefined); })
             .catch(function (err) { console.warn("MathJax could not typeset a widget label", err); });
      }
    };
  }
  document.addEventListener("DOMContentLoaded", install);
})();
