// The counsellor's inbox: one conversation in view, chosen from "My chats" or with Alt+Up/Down.
(function () {
  "use strict";

  var chats = document.getElementById("chats");
  var mine = document.getElementById("mine");
  if (!chats || !mine) return;
  var opening = null;  // a chat just taken: opened, composer focused, once it arrives

  function panels() {
    return Array.prototype.slice.call(chats.querySelectorAll(".chat-panel"));
  }
  function rows() {
    return Array.prototype.slice.call(mine.querySelectorAll(".mine-row"));
  }
  function panel(id) {
    return document.getElementById("chat-" + id);
  }
  function current() {
    var id = chats.dataset.current;
    return id && panel(id) ? id : null;
  }

  // Show one chat: its panel, its row marked, its newest message in view.
  function show(id) {
    if (!id || !panel(id)) {
      var first = rows()[0] || panels()[0];
      id = first ? first.dataset.sessionId : null;
    }
    if (id) chats.dataset.current = id; else delete chats.dataset.current;
    panels().forEach(function (each) {
      each.classList.toggle("is-current", each.dataset.sessionId === id);
    });
    rows().forEach(function (row) {
      var on = row.dataset.sessionId === id;
      row.classList.toggle("is-current", on);
      var link = row.querySelector("a");
      if (on) link.setAttribute("aria-current", "true"); else link.removeAttribute("aria-current");
    });
    var list = id && document.getElementById("messages-" + id);
    if (list) list.scrollTop = list.scrollHeight;
    document.dispatchEvent(new CustomEvent("inbox:shown", {detail: {id: id}}));
    return id;
  }

  function open(id) {
    id = show(id);
    if (!id) return;
    var url = new URL(location.href);
    url.searchParams.set("chat", id);
    history.replaceState(null, "", url);
    var box = document.getElementById("reply-" + id);
    if (box) box.focus();
  }

  mine.addEventListener("click", function (event) {
    var link = event.target.closest("[data-open-chat]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    open(link.dataset.openChat);
  });

  document.addEventListener("keydown", function (event) {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
    var ids = rows().map(function (row) { return row.dataset.sessionId; });
    if (!ids.length) return;
    event.preventDefault();
    var at = ids.indexOf(current());
    var next = event.key === "ArrowDown" ? Math.min(at + 1, ids.length - 1) : Math.max(at - 1, 0);
    open(ids[at === -1 ? 0 : next]);
  });

  // Take: the chat opens with the composer focused once the answer has put it in place.
  document.addEventListener("submit", function (event) {
    var match = /\/agent\/sessions\/(\d+)\/take$/.exec(event.target.getAttribute("action") || "");
    if (match) opening = match[1];
  }, true);

  // A re-render replaces the element being typed in: focus goes back to it by its id.
  var focused = null;
  chats.addEventListener("focusin", function (event) { focused = event.target.id || null; });
  chats.addEventListener("focusout", function (event) {
    if (event.relatedTarget) focused = null;
  });

  function refocus(element) {
    var start = element.selectionStart, end = element.selectionEnd;
    element.blur();
    element.focus();
    if (typeof start === "number") element.setSelectionRange(start, end);
  }

  // Live updates re-render the chats and the list: keep the chat in view, or open the one just taken.
  new MutationObserver(function () {
    if (opening && panel(opening)) {
      var id = opening;
      opening = null;
      open(id);
      return;
    }
    show(current());
    var active = document.activeElement;
    if (active && active !== document.body && chats.contains(active)) {
      refocus(active);  // moved by hx-preserve: Chromium shows it focused but sends it no keys until refocused
    } else if (focused && (!active || active === document.body)) {
      var again = document.getElementById(focused);
      if (again && chats.contains(again)) again.focus();
    }
  }).observe(chats, {childList: true});
  new MutationObserver(function () { show(current()); }).observe(mine, {childList: true});

  document.addEventListener("DOMContentLoaded", function () {
    var id = show(current());
    if (id && document.activeElement === document.body) {
      var box = document.getElementById("reply-" + id);
      if (box) box.focus();
    }
  });
})();
