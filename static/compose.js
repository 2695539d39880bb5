/* Tidings compose page: the small rich-text editor, autosave of the draft, attachments
   (several at once, drag and drop, a progress bar, the size limit checked before upload),
   address autocomplete, and the countdown of the "undo send" page.

   The form works without this file (plain text, files sent with the form); this only
   makes it nicer. Every request to the server goes through one queue, so that two saves
   never race: each save replaces the draft the previous one made. */
(function () {
  "use strict";

  var AUTOSAVE_MS = 3000;

  function $(selector, root) { return (root || document).querySelector(selector); }

  function humanSize(bytes) {
    if (bytes < 1024) { return bytes + " bytes"; }
    var units = ["KB", "MB", "GB"], value = bytes, unit = "";
    for (var i = 0; i < units.length; i++) {
      value /= 1024; unit = units[i];
      if (value < 1024) { break; }
    }
    return (value < 10 ? value.toFixed(1) : Math.round(value)) + " " + unit;
  }

  /* The "Sending… Undo" page: count down, then go back to the mail. */
  function countdown() {
    var box = $("#sending");
    if (!box) { return; }
    var left = parseInt(box.dataset.seconds, 10) || 0;
    var text = $("#countdown");
    var timer = setInterval(function () {
      left -= 1;
      if (left <= 0) {
        clearInterval(timer);
        window.location.assign(box.dataset.next || "/mail");
        return;
      }
      text.textContent = "You can undo this for " + left + " seconds.";
    }, 1000);
  }

  function compose(form) {
    var editor = $("#editor", form);
    var toolbar = $(".toolbar", form);
    var plain = $("#text_body", form);
    var htmlSource = $("textarea[name=html_body]", form);
    var format = $("input[name=format]", form);
    var richToggle = $(".rich-toggle", form);
    var status = $("#save-status");
    var fileInput = $("#files", form);
    var progress = $("#upload-progress");
    var uploadError = $("#upload-error");
    var list = $("#attachment-list");
    var maxSize = parseInt(form.dataset.maxSize, 10) || 0;
    var token = $("input[name=csrf_token]", form).value;
    var queue = Promise.resolve();
    var timer = null;
    var dirty = false;
    var attachedBytes = 0;
    var submitting = false;

    /* Rich text ------------------------------------------------------------------------ */
    function setRich(on) {
      if (on) {
        editor.innerHTML = htmlSource.value || textToHtml(plain.value);
        format.value = "html";
      } else {
        plain.value = editor.innerText;
        format.value = "text";
      }
      editor.hidden = !on;
      toolbar.hidden = !on;
      plain.hidden = on;
      richToggle.hidden = on;
    }

    function textToHtml(text) {
      var div = document.createElement("div");
      div.textContent = text;
      return div.innerHTML.replace(/\n/g, "<br>");
    }

    function sync() {
      if (format.value === "html") { htmlSource.value = editor.innerHTML; }
    }

    toolbar.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-command]");
      if (!button) { return; }
      var command = button.dataset.command;
      editor.focus();
      if (command === "plain") {
        setRich(false);
        plain.focus();
      } else if (command === "createLink") {
        var url = window.prompt("Link address (https://…)", "https://");
        if (url && /^(https?:|mailto:)/i.test(url)) { document.execCommand("createLink", false, url); }
      } else if (command === "quote") {
        document.execCommand("formatBlock", false, "blockquote");
      } else {
        document.execCommand(command, false, null);
      }
      changed();
    });
    richToggle.addEventListener("click", function () {
      htmlSource.value = "";
      setRich(true);
      editor.focus();
      changed();
    });
    setRich(form.dataset.rich === "1");

    /* Saving --------------------------------------------------------------------------- */
    function formData(extra) {
      sync();
      var data = new FormData(form);
      data.delete("files");
      Object.keys(extra || {}).forEach(function (key) { data.append(key, extra[key]); });
      return data;
    }

    function send(data, onProgress) {
      return new Promise(function (resolve) {
        var xhr = new XMLHttpRequest();
        xhr.open("POST", "/compose/save");
        xhr.setRequestHeader("X-Requested-With", "compose");
        xhr.setRequestHeader("X-CSRF-Token", token);
        xhr.responseType = "json";
        if (onProgress) {
          xhr.upload.addEventListener("progress", function (event) {
            if (event.lengthComputable) { onProgress(event.loaded / event.total); }
          });
        }
        xhr.addEventListener("load", function () { resolve({status: xhr.status, body: xhr.response}); });
        xhr.addEventListener("error", function () { resolve({status: 0, body: null}); });
        xhr.send(data);
      });
    }

    function apply(result) {
      var body = result.body;
      if (!body || !body.attachments) {
        status.textContent = result.status === 0 ? "Not saved: no connection" : "Not saved";
        return;
      }
      if (body.draft_uid) { $("input[name=draft_uid]", form).value = body.draft_uid; }
      form.querySelectorAll("[data-source]").forEach(function (input) { input.remove(); });
      showAttachments(body.attachments);
      var errors = body.errors || {};
      if (errors.attachments) { showError(errors.attachments); }
      var now = new Date();
      status.textContent = "Draft saved at " + now.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
    }

    function enqueue(job) {
      queue = queue.then(job, job);
      return queue;
    }

    function save(extra) {
      clearTimeout(timer);
      dirty = false;
      return enqueue(function () {
        status.textContent = "Saving…";
        return send(formData(extra)).then(apply);
      });
    }

    function changed() {
      dirty = true;
      clearTimeout(timer);
      timer = setTimeout(function () { if (dirty) { save(); } }, AUTOSAVE_MS);
    }

    form.addEventListener("input", function (event) {
      if (event.target !== fileInput) { changed(); }
    });
    form.addEventListener("change", function (event) {
      if (event.target.tagName === "SELECT") { changed(); }
    });

    /* Another From: its signature replaces the previous one (if the user left it). */
    var from = $("#from", form);
    var signature = currentSignature();
    function currentSignature() {
      var option = from.options[from.selectedIndex];
      return option ? {text: option.dataset.signatureText || "", html: option.dataset.signatureHtml || ""}
        : {text: "", html: ""};
    }
    from.addEventListener("change", function () {
      var next = currentSignature();
      if (format.value === "html") {
        var block = editor.querySelector(".signature");
        if (block && next.html) {
          block.innerHTML = "-- <br>" + next.html;
        } else if (block) {
          block.remove();
        } else if (next.html) {
          block = document.createElement("div");
          block.className = "signature";
          block.innerHTML = "-- <br>" + next.html;
          var quote = editor.querySelector("blockquote");
          var before = quote && quote.previousElementSibling ? quote.previousElementSibling : null;
          editor.insertBefore(block, before || null);
        }
      } else if (signature.text && plain.value.indexOf("-- \n" + signature.text) >= 0) {
        plain.value = plain.value.replace("-- \n" + signature.text, next.text ? "-- \n" + next.text : "");
      } else if (next.text) {
        plain.value = plain.value.replace(/^\n*/, "\n\n-- \n" + next.text + "\n");
      }
      signature = next;
    });

    /* Leaving the page: save what was typed since the last save. */
    window.addEventListener("pagehide", function () {
      if (dirty && !submitting && navigator.sendBeacon) {
        navigator.sendBeacon("/compose/save", formData());
      }
    });

    /* Attachments ---------------------------------------------------------------------- */
    function showAttachments(items) {
      list.textContent = "";
      attachedBytes = 0;
      items.forEach(function (item) {
        attachedBytes += item.size;
        var li = document.createElement("li");
        var name = document.createElement("span");
        name.className = "name";
        name.textContent = item.filename;
        var size = document.createElement("span");
        size.className = "muted";
        size.textContent = " " + item.size_text + " ";
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link";
        remove.textContent = "Remove";
        remove.setAttribute("aria-label", "Remove " + item.filename);
        remove.addEventListener("click", function () { save({remove: String(item.index)}); });
        li.append(name, size, remove);
        list.append(li);
      });
    }

    function showError(text) {
      uploadError.textContent = text;
      uploadError.hidden = !text;
    }

    function upload(files) {
      files = Array.prototype.slice.call(files);
      if (!files.length) { return; }
      var total = attachedBytes;
      for (var i = 0; i < files.length; i++) {
        total += files[i].size;
        if (maxSize && files[i].size * 4 / 3 > maxSize) {
          showError(files[i].name + " is too big: " + humanSize(files[i].size) +
                    "; a message may be at most " + humanSize(maxSize) + " in total");
          fileInput.value = "";
          return;
        }
      }
      if (maxSize && total * 4 / 3 > maxSize) {
        showError("These files are too big together: " + humanSize(total) +
                  "; a message may be at most " + humanSize(maxSize) + " in total");
        fileInput.value = "";
        return;
      }
      showError("");
      var data = formData();
      files.forEach(function (file) { data.append("files", file, file.name); });
      fileInput.value = "";
      clearTimeout(timer);
      dirty = false;
      enqueue(function () {
        progress.hidden = false;
        progress.value = 0;
        status.textContent = "Uploading…";
        return send(data, function (done) { progress.value = Math.round(done * 100); })
          .then(function (result) {
            progress.hidden = true;
            apply(result);
            if (result.status === 413 && result.body && result.body.errors) {
              showError(result.body.errors.attachments);
            }
          });
      });
    }

    fileInput.addEventListener("change", function () { upload(fileInput.files); });
    ["dragenter", "dragover"].forEach(function (type) {
      form.addEventListener(type, function (event) {
        if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0) {
          event.preventDefault();
          form.classList.add("dropping");
        }
      });
    });
    ["dragleave", "drop"].forEach(function (type) {
      form.addEventListener(type, function () { form.classList.remove("dropping"); });
    });
    form.addEventListener("drop", function (event) {
      if (event.dataTransfer && event.dataTransfer.files.length) {
        event.preventDefault();
        upload(event.dataTransfer.files);
      }
    });

    /* Send, save, discard: wait for the saves in flight, so the form names the newest
       draft, then submit as a normal form. */
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (submitting) { return; }  // a second click while the first one is on its way
      var button = event.submitter;
      if (button && button.name === "remove") {
        save({remove: button.value});
        return;
      }
      clearTimeout(timer);
      sync();
      queue.then(function () {
        submitting = true;
        form.action = button && button.formAction ? button.formAction : form.action;
        form.submit();
      });
    });

    /* Ctrl+Enter (Cmd+Enter on a Mac) sends, as in other mail programs. */
    form.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit($("button.send", form));
      }
    });

    /* Address autocomplete ------------------------------------------------------------- */
    form.querySelectorAll("input[data-addresses]").forEach(function (input) {
      autocomplete(input, $("#" + input.getAttribute("aria-controls")), form.dataset.suggest);
    });
  }

  function autocomplete(input, box, url) {
    var timer = null;
    var active = -1;
    var items = [];

    function lastToken() {
      var parts = input.value.split(/[,;]/);
      return parts[parts.length - 1].trim();
    }

    function close() {
      box.hidden = true;
      box.textContent = "";
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      items = [];
      active = -1;
    }

    function choose(index) {
      var item = items[index];
      if (!item) { return; }
      var parts = input.value.split(/[,;]/);
      parts[parts.length - 1] = " " + item.value;
      input.value = parts.map(function (p) { return p.trim(); }).filter(Boolean).join(", ") + ", ";
      close();
      input.focus();
      input.dispatchEvent(new Event("input", {bubbles: true}));
    }

    function highlight(index) {
      var options = box.querySelectorAll("[role=option]");
      options.forEach(function (option, i) { option.setAttribute("aria-selected", i === index ? "true" : "false"); });
      active = index;
      if (options[index]) { input.setAttribute("aria-activedescendant", options[index].id); }
    }

    function show(found) {
      close();
      items = found;
      if (!found.length) { return; }
      found.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = input.id + "-option-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        var name = document.createElement("strong");
        name.textContent = item.name || item.address;
        var address = document.createElement("span");
        address.className = "muted";
        address.textContent = item.name ? " " + item.address : "";
        li.append(name, address);
        li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(i); });
        box.append(li);
      });
      box.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    input.addEventListener("input", function (event) {
      if (!event.isTrusted) { return; }
      clearTimeout(timer);
      var query = lastToken();
      if (!query) { close(); return; }
      timer = setTimeout(function () {
        fetch(url + "?q=" + encodeURIComponent(query), {headers: {"Accept": "application/json"}})
          .then(function (response) { return response.ok ? response.json() : []; })
          .then(function (found) { if (lastToken() === query) { show(found); } })
          .catch(close);
      }, 150);
    });
    input.addEventListener("keydown", function (event) {
      if (box.hidden) { return; }
      if (event.key === "ArrowDown") { event.preventDefault(); highlight(Math.min(active + 1, items.length - 1)); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(Math.max(active - 1, 0)); }
      else if (event.key === "Enter" || event.key === "Tab") {
        if (active >= 0) { event.preventDefault(); choose(active); }
      } else if (event.key === "Escape") { close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("compose-form");
    if (form) { compose(form); }
    countdown();
  });
}());
