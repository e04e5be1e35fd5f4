// Haven's only script: small comforts on top of pages that work without it.
(function () {
  "use strict";

  // After htmx replaces a panel, put keyboard and screen-reader focus on the new panel's
  // heading, so that the person knows where they are; the old panel (and focus) is gone.
  var swappedId = null;

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    swappedId = target && target.id ? target.id : null;
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!swappedId) {
      return;
    }
    var panel = document.getElementById(swappedId);
    swappedId = null;
    var heading = panel && panel.querySelector("h2[tabindex]");
    if (heading) {
      heading.focus();
    }
  });
})();
