// EduConsult's chat on any website: <script src="https://chat.example/widget.js" async></script>
// adds a launcher button that opens the chat in a framed panel (full screen on phones). The launcher counts
// the replies that arrive while the panel is closed; the panel stays open or closed across page loads.
// Labels can be set on the script tag: data-label="Chat with us" data-close-label="Close the chat".
(function () {
  "use strict";
  if (window.handoffWidget) return;
  var script = document.currentScript;
  if (!script || !script.src) return;
  var origin = new URL(script.src).origin;
  var STORE = "handoff-widget-open";
  var CSS = [
    ":host { all: initial; }",
    ".launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 60px; height: 60px;",
    "  border: 0; border-radius: 50%; background: #1f5fbf; color: #fff; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25);",
    "  display: grid; place-items: center; }",
    ".launcher:focus-visible, .close:focus-visible { outline: 3px solid #f0b429; outline-offset: 2px; }",
    ".launcher svg { width: 28px; height: 28px; fill: currentColor; }",
    ".badge { position: absolute; top: -4px; right: -4px; min-width: 22px; height: 22px; padding: 0 6px; border-radius: 11px;",
    "  background: #b3261e; color: #fff; font: 700 12px/22px system-ui, sans-serif; text-align: center; box-sizing: border-box; }",
    ".badge[hidden], .panel[hidden] { display: none; }",
    ".panel { position: fixed; right: 20px; bottom: 92px; z-index: 2147483000; width: 380px; height: min(640px, calc(100vh - 112px));",
    "  display: flex; flex-direction: column; background: #fff; border-radius: 14px; overflow: hidden; box-shadow: 0 8px 30px rgba(0,0,0,.3); }",
    ".bar { display: flex; justify-content: flex-end; background: #1f5fbf; }",
    ".close { border: 0; background: none; color: #fff; font: 600 14px system-ui, sans-serif; padding: 8px 12px; cursor: pointer; }",
    "iframe { flex: 1; width: 100%; border: 0; }",
    "@media (max-width: 600px) {",
    "  .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; }",
    "  .panel:not([hidden]) ~ .launcher { display: none; }",
    "}"
  ].join("\n");
  var ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';

  var mount = document.createElement("div");
  mount.id = "handoff-widget";
  var root = mount.attachShadow({mode: "open"});
  if ("adoptedStyleSheets" in root && window.CSSStyleSheet) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else {
    var style = document.createElement("style");
    style.textContent = CSS;
    root.appendChild(style);
  }

  var panel = document.createElement("div");
  panel.className = "panel";
  panel.id = "handoff-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", script.dataset.label || "Chat with us");
  var bar = document.createElement("div");
  bar.className = "bar";
  var close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.textContent = script.dataset.closeLabel || "Close the chat";
  bar.appendChild(close);
  var frame = document.createElement("iframe");
  frame.title = script.dataset.label || "Chat with us";
  frame.src = origin + "/?embed=1";
  panel.append(bar, frame);

  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.setAttribute("aria-controls", "handoff-panel");
  launcher.innerHTML = ICON;
  var name = document.createElement("span");
  name.textContent = script.dataset.label || "Chat with us";
  name.style.position = "absolute";  // CSSOM, which a page's CSP allows; visually hidden, read aloud
  name.style.width = name.style.height = "1px";
  name.style.overflow = "hidden";
  name.style.clip = "rect(0 0 0 0)";
  var badge = document.createElement("span");
  badge.className = "badge";
  badge.hidden = true;
  launcher.append(name, badge);
  root.append(panel, launcher);

  function remembered() {
    try { return localStorage.getItem(STORE) === "1"; } catch (e) { return false; }
  }
  function tell(message) {
    if (frame.contentWindow) frame.contentWindow.postMessage(Object.assign({handoff: true}, message), origin);
  }
  function setOpen(open, fromUser) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    try { localStorage.setItem(STORE, open ? "1" : "0"); } catch (e) { /* storage refused: not remembered */ }
    if (open) showUnread(0);
    tell({type: "open", open: open});
    if (fromUser && open) frame.focus();
    if (fromUser && !open) launcher.focus();
  }
  function showUnread(count) {
    badge.hidden = !count;
    badge.textContent = count > 9 ? "9+" : String(count);
    badge.setAttribute("aria-label", count + " unread");
  }

  launcher.addEventListener("click", function () { setOpen(panel.hidden, true); });
  close.addEventListener("click", function () { setOpen(false, true); });
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) setOpen(false, true);
  });
  frame.addEventListener("load", function () {
    tell({type: "host", url: location.href, title: document.title, open: !panel.hidden});
  });
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.origin !== origin || event.source !== frame.contentWindow || !data || data.handoff !== true) return;
    if (data.type === "unread") showUnread(panel.hidden ? Number(data.count) || 0 : 0);
    if (data.type === "escape" && !panel.hidden) setOpen(false, true);
  });

  setOpen(remembered(), false);
  window.handoffWidget = {open: function () { setOpen(true, true); }, close: function () { setOpen(false, true); }};
  (document.body || document.documentElement).appendChild(mount);
})();
