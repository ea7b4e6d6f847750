// Documents: several files at once (chosen or dragged onto the form), each with its own kind,
// progress bar and accepted/refused line. Each file is its own request (XMLHttpRequest, so the
// browser reports progress) answered in JSON; the documents list is then fetched again.
// Without JavaScript the form posts every file chosen and the page says what became of each.
(function () {
  "use strict";

  var pending = new WeakMap(); // form -> [{file, row, select, bar, line}]
  var counter = 0;

  function rowsFor(form) {
    if (!pending.has(form)) pending.set(form, []);
    return pending.get(form);
  }

  function addFiles(form, files) {
    var list = form.querySelector(".upload-list");
    var rows = rowsFor(form);
    if (rows.length && rows.every(function (r) { return r.done; })) {
      rows.length = 0; // a finished batch gives way to the next
      list.textContent = "";
    }
    var kind = form.querySelector("select[name=kind]");
    Array.prototype.forEach.call(files, function (file) {
      counter += 1;
      var id = "upload-file-" + counter;
      var row = document.createElement("li");
      row.className = "upload-item border rounded p-2 mb-2";
      var name = document.createElement("div");
      name.className = "fw-semibold upload-name";
      name.textContent = file.name;
      var label = document.createElement("label");
      label.className = "form-label small mb-0 me-2";
      label.htmlFor = id + "-kind";
      label.textContent = "What is “" + file.name + "”?";
      var select = kind.cloneNode(true);
      select.id = id + "-kind";
      select.removeAttribute("name");
      select.removeAttribute("aria-describedby");
      select.className = "form-select form-select-sm d-inline-block w-auto";
      select.value = kind.value;
      var barLabel = document.createElement("label");
      barLabel.className = "visually-hidden";
      barLabel.htmlFor = id + "-progress";
      barLabel.textContent = "Upload of " + file.name;
      var bar = document.createElement("progress");
      bar.id = id + "-progress";
      bar.className = "w-100 upload-progress";
      bar.max = 100;
      bar.value = 0;
      bar.textContent = "0%";
      var line = document.createElement("div");
      line.className = "small upload-line";
      line.setAttribute("role", "status");
      line.textContent = "Ready to upload.";
      row.append(name, label, select, barLabel, bar, line);
      list.appendChild(row);
      // A token for this file: the same file sent again (a retry, a double click) is stored
      // once (referrals/attachments.py). Without randomUUID the server's own token is used.
      var token = window.crypto && window.crypto.randomUUID ? window.crypto.randomUUID() : "";
      row.dataset.token = token;
      rows.push({ file: file, row: row, select: select, bar: bar, line: line, done: false,
                  token: token });
    });
    list.hidden = rows.length === 0;
  }

  function sendOne(form, entry) {
    return new Promise(function (resolve) {
      var data = new FormData();
      data.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
      data.append("kind", entry.select.value);
      data.append("file", entry.file, entry.file.name);
      if (entry.token) data.append("upload_token", entry.token);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      entry.line.textContent = "Uploading…";
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          var percent = Math.round((e.loaded / e.total) * 100);
          entry.bar.value = percent;
          entry.bar.textContent = percent + "%";
        }
      });
      xhr.addEventListener("load", function () {
        var answer;
        try {
          answer = JSON.parse(xhr.responseText);
        } catch (err) {
          answer = { ok: false, message: "The portal could not take “" + entry.file.name + "” just now; please try again." };
        }
        entry.bar.value = 100;
        entry.line.textContent = answer.message;
        entry.line.className = "small upload-line " + (answer.ok ? "text-success-emphasis" : "text-danger-emphasis fw-semibold");
        entry.row.dataset.result = answer.ok ? "accepted" : "refused";
        resolve(answer.ok);
      });
      xhr.addEventListener("error", function () {
        entry.line.textContent = "The upload of “" + entry.file.name + "” did not finish. Check your connection and try again.";
        entry.line.className = "small upload-line text-danger-emphasis fw-semibold";
        entry.row.dataset.result = "refused";
        resolve(false);
      });
      xhr.send(data);
    });
  }

  function refreshDocuments() {
    // The checklist and the documents list as the server now has them.
    return fetch(window.location.pathname, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-documents-current]").forEach(function (old) {
          var now = fresh.getElementById(old.id);
          if (now) old.replaceWith(now);
        });
      });
  }

  function upload(form, event) {
    var input = form.querySelector("input[type=file]");
    var rows = rowsFor(form).filter(function (r) { return !r.done; });
    if (!window.FormData || !rows.length) {
      return; // let the browser post it; the server says what is missing
    }
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    form.querySelector(".upload-list").hidden = false;
    rows.reduce(function (chain, entry) {
      return chain.then(function () {
        entry.select.disabled = true;
        return sendOne(form, entry).then(function () { entry.done = true; });
      });
    }, Promise.resolve()).then(function () {
      input.value = "";
      button.disabled = false;
      return refreshDocuments();
    });
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    var form = input.closest && input.closest(".upload-form");
    if (form && input.type === "file") {
      addFiles(form, input.files);
    }
  });

  document.addEventListener("dragover", function (event) {
    var form = event.target.closest && event.target.closest(".upload-form");
    if (form) {
      event.preventDefault();
      form.classList.add("upload-drop");
    }
  });
  document.addEventListener("dragleave", function (event) {
    var form = event.target.closest && event.target.closest(".upload-form");
    if (form) form.classList.remove("upload-drop");
  });
  document.addEventListener("drop", function (event) {
    var form = event.target.closest && event.target.closest(".upload-form");
    if (form && event.dataTransfer && event.dataTransfer.files.length) {
      event.preventDefault();
      form.classList.remove("upload-drop");
      addFiles(form, event.dataTransfer.files);
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList && form.classList.contains("upload-form")) {
      upload(form, event);
    }
  });
})();

// The criteria panel: on a wide screen always open (it sits sticky beside the form); on a
// phone a summary bar at the top that the doctor expands. The panel is replaced on each
// autosave (htmx), so the doctor's choice is kept here and given back to the new one.
(function () {
  "use strict";
  var wide = window.matchMedia("(min-width: 992px)");
  var expanded = false;

  function apply() {
    var details = document.getElementById("criteria-summary");
    if (details) {
      details.open = wide.matches || expanded;
    }
  }

  document.addEventListener("click", function (event) {
    var summary = event.target.closest && event.target.closest("#criteria-summary > summary");
    if (!summary) {
      return;
    }
    event.preventDefault();
    if (!wide.matches) {
      expanded = !expanded;
      apply();
    }
  });
  document.addEventListener("htmx:oobAfterSwap", apply);
  document.addEventListener("htmx:afterSettle", apply);
  if (wide.addEventListener) {
    wide.addEventListener("change", apply);
  }
  apply();
})();

// Autosave: the response names each field that does not validate yet; put its message beside
// the field as the doctor leaves it (not only after Save), marked invalid for screen readers.
(function () {
  "use strict";

  function describe(input, id, add) {
    var ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (x) {
      return x && x !== id;
    });
    if (add) ids.push(id);
    if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
    else input.removeAttribute("aria-describedby");
  }

  function applyErrors() {
    var box = document.getElementById("autosave-errors");
    var form = document.getElementById("section-form");
    if (!box || !form) return;
    // The errors the page was rendered with are superseded by the latest save's.
    form.querySelectorAll(".invalid-feedback").forEach(function (el) {
      if (el.id) {
        var owner = form.querySelector("[aria-describedby~='" + el.id + "']");
        if (owner) describe(owner, el.id, false);
      }
      el.remove();
    });
    form.querySelectorAll(".is-invalid").forEach(function (el) {
      el.classList.remove("is-invalid");
      el.removeAttribute("aria-invalid");
    });
    box.querySelectorAll("p[data-field]").forEach(function (p) {
      var input = document.getElementById(p.dataset.field);
      if (!input) return;
      var wrap = input.closest("[id^='div_']") || input.closest("fieldset") || input.parentNode;
      var error = document.createElement("div");
      error.className = "invalid-feedback d-block autosave-error";
      error.id = p.dataset.field + "-autosave-error";
      error.textContent = p.textContent;
      wrap.appendChild(error);
      input.classList.add("is-invalid");
      input.setAttribute("aria-invalid", "true");
      describe(input, error.id, true);
    });
  }

  document.addEventListener("htmx:afterSettle", applyErrors);
})();
