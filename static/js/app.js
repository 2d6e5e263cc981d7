// Behaviour htmx cannot express declaratively, kept out of inline handlers so the CSP can forbid inline script.
(function () {
  "use strict";

  // Enter sends, Shift+Enter adds a line, as in every chat app.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || !box.matches("[data-enter-submits]")) return;
    event.preventDefault();
    if (box.value.trim() && box.form) box.form.requestSubmit();
  });

  // Keep the newest message in view unless the reader has scrolled up to read older ones.
  function stickToBottom(list) {
    var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
    if (nearBottom || list.dataset.scrolled !== "1") {
      list.scrollTop = list.scrollHeight;
      list.dataset.scrolled = "1";
    }
  }
  function scrollAll() {
    document.querySelectorAll(".messages, .transcript").forEach(stickToBottom);
  }
  new MutationObserver(function (records) {
    records.forEach(function (record) {
      var list = record.target.closest && record.target.closest(".messages, .transcript");
      if (list) stickToBottom(list);
      record.addedNodes.forEach(function (node) {
        if (node.querySelectorAll) node.querySelectorAll(".transcript").forEach(stickToBottom);
      });
    });
  }).observe(document.documentElement, {childList: true, subtree: true});
  document.addEventListener("DOMContentLoaded", scrollAll);
})();
