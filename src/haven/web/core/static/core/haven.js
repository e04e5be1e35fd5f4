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

  // "Tick all" in a table of checkboxes (the takedown queue); without the script, each is ticked by hand.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box || box.id !== "tick-all" || !box.form) {
      return;
    }
    var boxes = box.form.querySelectorAll('input[type="checkbox"][name="sighting"]');
    for (var i = 0; i < boxes.length; i++) {
      boxes[i].checked = box.checked;
    }
  });
})();
