// Quick exit: the button on every portal page and the Esc key replace this page with a neutral
// one. location.replace keeps the portal page out of the back button's history.
"use strict";
(function () {
  var NEUTRAL = "https://www.google.com/search?q=weather";
  function leave() {
    document.body.hidden = true;
    window.location.replace(NEUTRAL);
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") leave();
  });
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.closest && target.closest("[data-quick-exit]")) leave();
  });
})();
