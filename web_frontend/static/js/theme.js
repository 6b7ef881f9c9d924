// The colour theme (light, dark, or the system's), applied before the first paint. A classic
// blocking script in <head>: the CSP allows no inline script, and a module would run too late.
(function () {
  var KEY = "parley.theme";
  var media = window.matchMedia("(prefers-color-scheme: dark)");

  function choice() {
    try {
      var saved = localStorage.getItem(KEY);
      return saved === "light" || saved === "dark" ? saved : "system";
    } catch (e) {
      return "system"; // storage blocked: follow the system
    }
  }

  function apply() {
    var chosen = choice();
    document.documentElement.dataset.theme = chosen === "system" ? (media.matches ? "dark" : "light") : chosen;
    var pickers = document.querySelectorAll("select[data-theme-picker]");
    for (var i = 0; i < pickers.length; i++) pickers[i].value = chosen;
  }

  function choose(value) {
    try {
      if (value === "system") localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, value);
    } catch (e) {
      // Not remembered, but still applied to this page.
    }
    apply();
  }

  apply();
  media.addEventListener("change", apply);
  // Another tab changed it.
  window.addEventListener("storage", function (event) { if (event.key === KEY) apply(); });
  document.addEventListener("DOMContentLoaded", function () {
    apply();
    document.addEventListener("change", function (event) {
      if (event.target.matches("select[data-theme-picker]")) choose(event.target.value);
    });
  });
})();
