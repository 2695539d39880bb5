// Tidings webmail: keyboard shortcuts, selecting several messages, drag and drop onto a
// folder, and new mail arriving live (server-sent events). No inline script anywhere (the
// Content-Security-Policy forbids it); everything here is wired by event delegation, so it
// keeps working after htmx swaps parts of the page.
(function () {
  "use strict";

  var lastChecked = null; // the checkbox clicked last, for shift-click ranges
  var dragged = null; // the UIDs being dragged

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $$(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }
  function csrfToken() { var input = $('input[name="csrf_token"]'); return input ? input.value : ""; }
  function items() { return $$("#rows li.item"); }
  function cursor() { return $("#rows li.item.cursor") || $("#rows li.item.current"); }
  function listForm() { return $("#list-form"); }
  function folderName() { var form = listForm(); return form ? form.elements.folder.value : ""; }

  // Selection -----------------------------------------------------------------------------
  function mark(box) {
    var item = box.closest("li.item");
    if (item) {
      item.classList.toggle("checked", box.checked);
      item.setAttribute("aria-selected", box.checked ? "true" : "false");
    }
  }

  function selectedUids() {
    return $$('#rows input[name="uid"]:checked').map(function (box) { return box.value; });
  }

  document.addEventListener("click", function (event) {
    var box = event.target.closest && event.target.closest('#rows input[name="uid"]');
    if (box) {
      var boxes = $$('#rows input[name="uid"]');
      if (event.shiftKey && lastChecked && boxes.indexOf(lastChecked) >= 0) {
        var from = boxes.indexOf(lastChecked), to = boxes.indexOf(box);
        boxes.slice(Math.min(from, to), Math.max(from, to) + 1).forEach(function (each) {
          each.checked = box.checked;
          mark(each);
        });
      }
      lastChecked = box;
      mark(box);
      return;
    }
    if (event.target.id === "select-all") {
      $$('#rows input[name="uid"]').forEach(function (each) {
        each.checked = event.target.checked;
        mark(each);
      });
      return;
    }
    if (event.target.id === "shortcuts-open") {
      showShortcuts();
    }
  });

  // Keyboard ------------------------------------------------------------------------------
  function setCursor(item, focus) {
    items().forEach(function (each) { each.classList.remove("cursor"); });
    if (!item) { return; }
    item.classList.add("cursor");
    var link = $("a.row", item);
    if (focus && link) { link.focus(); }
    item.scrollIntoView({ block: "nearest" });
  }

  function moveCursor(step) {
    var all = items();
    if (!all.length) { return; }
    var at = all.indexOf(cursor());
    var next = at < 0 ? all[0] : all[Math.max(0, Math.min(all.length - 1, at + step))];
    setCursor(next, true);
    if ($("#message-pane.open") && next !== all[at]) { open(next); }
  }

  function open(item) {
    var link = item && $("a.row", item);
    if (link) { link.click(); }
  }

  function showShortcuts() {
    var dialog = $("#shortcuts");
    if (dialog && !dialog.open) { dialog.showModal(); }
  }

  function messageTool(key) {
    return $('#message-pane [data-key="' + key + '"]');
  }

  function writeUrl(kind) {
    var item = cursor();
    if (!item) { return null; }
    var folder = folderName().split("/").map(encodeURIComponent).join("/");
    return "/compose/" + kind + "/" + folder + "/" + item.dataset.uid;
  }

  function actOnList(action) {
    var form = listForm();
    if (!form) { return; }
    if (!selectedUids().length) {
      var item = cursor();
      if (!item) { return; }
      var box = $('input[name="uid"]', item);
      box.checked = true;
      mark(box);
    }
    var button = $('button[name="action"][value="' + action + '"]', form);
    if (button) { button.click(); }
  }

  var WRITE = { r: "reply", a: "reply-all", f: "forward" };
  var ACT = { e: "archive", "#": "delete" };

  function typing(target) {
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if ($("dialog[open]")) { return; }
    var key = event.key, tool;
    if (key === "j" || key === "k") {
      moveCursor(key === "j" ? 1 : -1);
    } else if (key === "o" || (key === "Enter" && !event.target.closest("a, button"))) {
      open(cursor() || items()[0]);
    } else if (key === "u") {
      tool = messageTool("u");
      if (tool) { tool.click(); } else { return; }
    } else if (key === "x") {
      var item = cursor();
      if (!item) { return; }
      var box = $('input[name="uid"]', item);
      box.checked = !box.checked;
      mark(box);
    } else if (WRITE[key]) {
      tool = messageTool(key);
      var url = tool ? tool.getAttribute("href") : writeUrl(WRITE[key]);
      if (!url) { return; }
      window.location.assign(url);
    } else if (key === "c") {
      window.location.assign("/compose");
    } else if (key === "/") {
      var search = document.getElementById("search-q");
      if (!search) { return; }
      search.focus();
    } else if (ACT[key] || key === "s") {
      tool = messageTool(key);
      if (tool) {
        tool.click();
      } else if (key === "s") {
        var flagged = cursor() && $(".flag", cursor());
        actOnList(flagged ? "unflag" : "flag");
      } else {
        actOnList(ACT[key]);
      }
    } else if (key === "?") {
      showShortcuts();
    } else {
      return;
    }
    event.preventDefault();
  });

  // The row opened by a click (or htmx) becomes the cursor.
  document.addEventListener("focusin", function (event) {
    var item = event.target.closest && event.target.closest("#rows li.item");
    if (item && !item.classList.contains("cursor")) { setCursor(item, false); }
  });

  // Drag and drop onto a folder --------------------------------------------------------------
  document.addEventListener("dragstart", function (event) {
    var item = event.target.closest && event.target.closest("#rows li.item");
    if (!item) { return; }
    var box = $('input[name="uid"]', item);
    dragged = box.checked ? selectedUids() : [item.dataset.uid];
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.length + " message(s)");
    item.classList.add("dragging");
  });

  document.addEventListener("dragend", function () {
    $$("#rows li.dragging").forEach(function (each) { each.classList.remove("dragging"); });
    $$(".folder.drop-target").forEach(function (each) { each.classList.remove("drop-target"); });
    dragged = null;
  });

  function dropFolder(event) {
    var link = event.target.closest && event.target.closest(".folders a.folder");
    return dragged && link && link.dataset.folder !== folderName() ? link : null;
  }

  document.addEventListener("dragover", function (event) {
    var link = dropFolder(event);
    if (!link) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    $$(".folder.drop-target").forEach(function (each) {
      if (each !== link) { each.classList.remove("drop-target"); }
    });
    link.classList.add("drop-target");
  });

  document.addEventListener("drop", function (event) {
    var link = dropFolder(event);
    if (!link) { return; }
    event.preventDefault();
    var body = new FormData();
    body.append("csrf_token", csrfToken());
    body.append("folder", folderName());
    body.append("action", "move");
    body.append("target", link.dataset.folder);
    dragged.forEach(function (uid) { body.append("uid", uid); });
    dragged = null;
    fetch("/actions", { method: "POST", body: body, credentials: "same-origin",
                        headers: { "HX-Request": "true" } })
      .then(function (response) {
        if (response.ok) { return refresh(); }
        return response.text().then(showError);
      });
  });

  function showError(text) {
    var head = $(".list-head");
    if (!head) { return; }
    var note = $("#action-error") || document.createElement("p");
    note.id = "action-error";
    note.className = "error";
    note.setAttribute("role", "alert");
    note.textContent = text;
    head.appendChild(note);
  }

  // Refreshing the list and the folder counts -------------------------------------------------
  function refresh() {
    var list = $("#list");
    if (!list || !list.dataset.url) { return Promise.resolve(); }
    var checked = selectedUids();
    var at = cursor() ? cursor().dataset.uid : null;
    var opened = $("#rows li.item.current");
    var openedUid = opened ? opened.dataset.uid : null;
    return fetch(list.dataset.url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var page = new DOMParser().parseFromString(html, "text/html");
        ["#list", "#folders"].forEach(function (selector) {
          var fresh = $(selector, page), old = $(selector);
          if (fresh && old) {
            old.innerHTML = fresh.innerHTML;
            if (window.htmx) { window.htmx.process(old); }
          }
        });
        items().forEach(function (item) {
          var box = $('input[name="uid"]', item);
          if (checked.indexOf(item.dataset.uid) >= 0) { box.checked = true; mark(box); }
          if (item.dataset.uid === openedUid) {
            item.classList.add("current");
            $("a.row", item).classList.add("current");
          }
          if (item.dataset.uid === at) { item.classList.add("cursor"); }
        });
        var title = $("title", page);
        if (title && !$("#message-pane.open")) { document.title = title.textContent; }
      });
  }

  function setTitleCount(count) {
    var bare = document.title.replace(/^\(\d+\) /, "");
    document.title = (count > 0 ? "(" + count + ") " : "") + bare;
  }

  function shownCounts() {
    var counts = {};
    $$(".folders a.folder").forEach(function (link) {
      var badge = $(".count", link);
      counts[link.dataset.folder] = badge ? parseInt(badge.textContent, 10) : 0;
    });
    return counts;
  }

  function sameCounts(a, b) {
    var keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) { return false; }
    return keys.every(function (key) { return a[key] === b[key]; });
  }

  function listen() {
    // Tests (and anyone curious) can tell that the shortcuts are wired up.
    document.documentElement.setAttribute("data-mail-ready", "");
    var app = $(".app[data-events]");
    if (!app || !window.EventSource) { return; }
    var source = new EventSource(app.dataset.events);
    var first = true;
    source.addEventListener("mail", function (event) {
      var data = JSON.parse(event.data);
      setTitleCount(data.inbox_unseen);
      // The first event says how things are now: refresh only if that differs from the page.
      if (first && sameCounts(data.folders, shownCounts())) { first = false; return; }
      first = false;
      refresh();
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", listen);
  } else {
    listen();
  }
})();
