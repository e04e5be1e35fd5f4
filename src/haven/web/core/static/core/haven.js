// Haven's only script: small comforts on top of pages that work without it.
(function () {
  "use strict";

  // On a phone the main menu folds behind a "Menu" button; without the script it stays open.
  document.documentElement.classList.add("js");
  var toggle = document.querySelector(".menu-toggle");
  var nav = document.getElementById("site-nav");
  if (toggle && nav) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      nav.classList.toggle("site-nav--open", open);
    });
  }

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

  // The notice form shows only the fields the chosen legal regime asks for (all of them without
  // the script).
  function showRegimeFields(form) {
    var select = form.querySelector('select[name="regime"]');
    if (!select) {
      return;
    }
    var parts = form.querySelectorAll("[data-for-regimes]");
    for (var i = 0; i < parts.length; i++) {
      var codes = parts[i].getAttribute("data-for-regimes").split(" ");
      parts[i].hidden = codes.indexOf(select.value) === -1;
    }
  }
  var noticeForm = document.querySelector("[data-notice-form]");
  if (noticeForm) {
    showRegimeFields(noticeForm);
    noticeForm.addEventListener("change", function (event) {
      if (event.target && event.target.name === "regime") {
        showRegimeFields(noticeForm);
      }
    });
  }

  // "Tick all" in a table of checkboxes (the takedown queue, the case list); without the script,
  // each is ticked by hand. data-tick-all names the checkboxes it ticks.
  document.addEventListener("change", function (event) {
    var box = event.target;
    var name = box && box.getAttribute ? box.getAttribute("data-tick-all") : null;
    if (!name && box && box.id === "tick-all") {
      name = "sighting";
    }
    if (!name || !box.form) {
      return;
    }
    var boxes = box.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]');
    for (var i = 0; i < boxes.length; i++) {
      boxes[i].checked = box.checked;
    }
  });

  // The review queue: J/K move between matches, V shows the picture, C confirms, X rejects.
  // Pictures stay blurred until asked for; the unblurred one is fetched only then.
  function reveal(card) {
    var img = card && card.querySelector("img[data-sharp]");
    if (img && img.getAttribute("src") !== img.getAttribute("data-sharp")) {
      img.setAttribute("src", img.getAttribute("data-sharp"));
      img.classList.add("candidate__image--sharp");
    }
  }

  document.addEventListener("click", function (event) {
    var link = event.target && event.target.closest ? event.target.closest("[data-reveal]") : null;
    if (link) {
      event.preventDefault();
      reveal(link.closest("[data-candidate]"));
    }
  });

  document.addEventListener("keydown", function (event) {
    if (!document.querySelector("[data-review-list]") || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    var tag = event.target && event.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") {
      return;
    }
    var cards = Array.prototype.slice.call(document.querySelectorAll("[data-candidate]"));
    if (!cards.length) {
      return;
    }
    var current = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("[data-candidate]") : null;
    var index = cards.indexOf(current);
    var key = event.key.toLowerCase();
    if (key === "j" || key === "k") {
      var next = key === "j" ? Math.min(index + 1, cards.length - 1) : Math.max(index - 1, 0);
      cards[next].focus();
      event.preventDefault();
    } else if (current && key === "v") {
      reveal(current);
      event.preventDefault();
    } else if (current && (key === "c" || key === "x")) {
      var button = current.querySelector(key === "c" ? "[data-confirm]" : "[data-reject]");
      if (button) {
        button.click();
        event.preventDefault();
      }
    }
  });
})();
