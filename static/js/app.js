// Behaviour htmx cannot express declaratively, kept out of inline handlers so the CSP can forbid inline script.
(function () {
  "use strict";

  // Enter sends, Shift+Enter adds a line, as in every chat app.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.defaultPrevented ||
        !box.matches("[data-enter-submits]")) return;
    event.preventDefault();
    if (box.value.trim() && box.form) box.form.requestSubmit();
  });

  // Keep the newest message in view unless the reader has scrolled up to read older ones:
  // whether they were at the bottom is recorded on scroll, before new messages change the height.
  function pinned(list) {
    return list.dataset.pinned !== "0";
  }
  function stickToBottom(list) {
    if (pinned(list)) list.scrollTop = list.scrollHeight;
  }
  function scrollAll() {
    document.querySelectorAll(".messages, .transcript").forEach(stickToBottom);
  }
  document.addEventListener("scroll", function (event) {
    var list = event.target;
    if (!list.matches || !list.matches(".messages, .transcript")) return;
    // A scroll reported after the list shrank but before its resize observer ran says nothing about the
    // reader: judged against the new height it would unpin a reader who was at the bottom.
    if (list.dataset.height && Number(list.dataset.height) !== list.clientHeight) return;
    list.dataset.pinned = list.scrollHeight - list.scrollTop - list.clientHeight < 40 ? "1" : "0";
  }, true);
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

  // Canned responses: "/" and a shortcut in an agent's message box offers the matching replies;
  // arrows choose, Enter or Tab inserts, Escape closes. The dashboard lists them in <template id="canned-responses">.
  var menu = null;
  function cannedList() {
    var source = document.getElementById("canned-responses");
    if (!source) return [];
    return Array.prototype.map.call(source.content.querySelectorAll("option"), function (option) {
      return {shortcut: option.value, title: option.label, text: option.textContent};
    });
  }
  function trigger(box) {
    var match = /(^|\s)\/([\w-]*)$/.exec(box.value.slice(0, box.selectionStart));
    return match && {start: box.selectionStart - match[2].length - 1, query: match[2].toLowerCase()};
  }
  function closeMenu() {
    if (!menu) return;
    menu.box.removeAttribute("aria-activedescendant");
    menu.box.setAttribute("aria-expanded", "false");
    menu.element.remove();
    menu = null;
  }
  function choose(index) {
    menu.active = (index + menu.items.length) % menu.items.length;
    Array.prototype.forEach.call(menu.element.children, function (li, i) {
      li.setAttribute("aria-selected", i === menu.active ? "true" : "false");
    });
    menu.box.setAttribute("aria-activedescendant", menu.element.children[menu.active].id);
  }
  function insert(item) {
    var box = menu.box, found = trigger(box);
    closeMenu();
    if (!found) return;
    var end = box.selectionStart;
    box.value = box.value.slice(0, found.start) + item.text + box.value.slice(end);
    box.selectionStart = box.selectionEnd = found.start + item.text.length;
    box.focus();
    box.dispatchEvent(new Event("input", {bubbles: true}));
  }
  function openMenu(box, items) {
    closeMenu();
    var list = document.createElement("ul");
    list.className = "canned-menu";
    list.id = box.id + "-canned";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Canned responses");
    items.forEach(function (item, i) {
      var li = document.createElement("li");
      li.id = list.id + "-" + i;
      li.setAttribute("role", "option");
      li.dataset.shortcut = item.shortcut;
      var key = document.createElement("strong");
      key.textContent = "/" + item.shortcut;
      li.append(key, " " + item.title);
      li.addEventListener("mousedown", function (event) { event.preventDefault(); insert(item); });
      list.appendChild(li);
    });
    (box.form || box.parentNode).appendChild(list);
    box.setAttribute("aria-controls", list.id);
    box.setAttribute("aria-expanded", "true");
    menu = {box: box, element: list, items: items, active: 0};
    choose(0);
  }
  document.addEventListener("input", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("textarea[data-canned]")) return;
    var found = trigger(box);
    var items = found ? cannedList().filter(function (item) {
      return item.shortcut.indexOf(found.query) === 0 || item.title.toLowerCase().indexOf(found.query) !== -1;
    }) : [];
    if (items.length) openMenu(box, items); else closeMenu();
  });
  document.addEventListener("keydown", function (event) {
    if (!menu || event.target !== menu.box || event.isComposing) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      choose(menu.active + (event.key === "ArrowDown" ? 1 : -1));
    } else if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
      insert(menu.items[menu.active]);
    } else if (event.key === "Escape") {
      closeMenu();
    } else {
      return;
    }
    event.preventDefault();
  }, true);
  document.addEventListener("focusout", function (event) {
    if (menu && event.target === menu.box) closeMenu();
  });
})();
