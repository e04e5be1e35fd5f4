// Quick exit: the link at the top of every portal page and the Esc key replace this page with an
// ordinary one (the link's address, which the centre chooses). location.replace keeps the portal
// page out of the back button's history; without JavaScript the link still leaves.
//
// Links from one portal page to another replace the page too, so that the history holds at most
// one portal page however far she went.
"use strict";
(function () {
  var FALLBACK = "https://www.google.com/search?q=weather";
  function exitAddress() {
    var link = document.querySelector("a[data-quick-exit]");
    return link && link.href ? link.href : FALLBACK;
  }
  function leave() {
    document.body.hidden = true;
    window.location.replace(exitAddress());
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") leave();
  });
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) return;
    if (target.closest("[data-quick-exit]")) {
      event.preventDefault();
      leave();
      return;
    }
    var link = target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target) return;
    var url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin || url.pathname.indexOf("/portal/") !== 0) return;
    event.preventDefault();
    window.location.replace(url.href);
  });
})();
