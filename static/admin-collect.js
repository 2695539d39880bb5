// Collector accounts and the import page (admin). No inline script: the CSP forbids it.
"use strict";

const DEFAULT_PORTS = {
  "pop3 implicit": 995, "pop3 starttls": 110, "pop3 none": 110,
  "imap implicit": 993, "imap starttls": 143, "imap none": 143,
};

function showDefaultPort() {
  const protocol = document.getElementById("f-protocol");
  const tls = document.getElementById("f-tls");
  const port = document.getElementById("f-port");
  if (!protocol || !tls || !port) return;
  const update = () => {
    port.placeholder = String(DEFAULT_PORTS[protocol.value + " " + tls.value] || "");
  };
  protocol.addEventListener("change", update);
  tls.addEventListener("change", update);
  update();
}

function confirmForms() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

// The upload goes as the raw request body, so the server streams it to disk, and the
// browser reports its progress. Without JavaScript the form posts as multipart.
function uploadWithProgress() {
  const form = document.getElementById("import-form");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    const file = form.elements.file.files[0];
    if (!file) return;  // the server says what is missing, next to the field
    event.preventDefault();
    const query = new URLSearchParams({
      account: form.elements.account.value, folder: form.elements.folder.value,
      filename: file.name,
    });
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action + "?" + query.toString());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-CSRF-Token", form.elements.csrf_token.value);
    const box = document.getElementById("upload-progress");
    const bar = document.getElementById("upload-bar");
    const percent = document.getElementById("upload-percent");
    box.hidden = false;
    form.querySelector("button[type=submit]").disabled = true;
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      const p = Math.floor((e.loaded * 100) / e.total);
      bar.value = p;
      percent.textContent = p + "%";
    });
    xhr.addEventListener("load", () => {
      if (xhr.status === 200 && xhr.responseURL.includes("/admin/import/")) {
        window.location.assign(xhr.responseURL);
        return;
      }
      // A refusal: show the page the server sent (errors next to the fields).
      const doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      const main = doc.getElementById("admin-main");
      if (main) {
        document.getElementById("admin-main").replaceWith(main);
        uploadWithProgress();
      } else {
        percent.textContent = "The upload failed (" + xhr.status + ").";
      }
    });
    xhr.addEventListener("error", () => {
      percent.textContent = "The upload was interrupted; try again.";
      form.querySelector("button[type=submit]").disabled = false;
    });
    xhr.send(file);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  showDefaultPort();
  confirmForms();
  uploadWithProgress();
});
