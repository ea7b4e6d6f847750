// Upload progress for document forms: send with XMLHttpRequest so the browser reports progress,
// then show the page the server answers with. Without JavaScript the form posts normally.
(function () {
  "use strict";

  function upload(form, event) {
    if (!window.FormData || !form.querySelector("input[type=file]").files.length) {
      return; // let the browser post it; the server says what is missing
    }
    event.preventDefault();
    var status = form.querySelector(".upload-status");
    var bar = form.querySelector("progress");
    var button = form.querySelector("button[type=submit]");
    status.hidden = false;
    button.disabled = true;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        var percent = Math.round((e.loaded / e.total) * 100);
        bar.value = percent;
        bar.textContent = percent + "%";
      }
    });
    xhr.addEventListener("load", function () {
      // Show the page the server answered with (after a redirect, the page it led to, which
      // carries the "Added" message; after a refusal, this page with the reason).
      if (xhr.responseURL && xhr.responseURL !== window.location.href) {
        window.history.replaceState(null, "", xhr.responseURL);
      }
      document.open();
      document.write(xhr.responseText);
      document.close();
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      status.hidden = true;
      window.alert("The upload did not finish. Check your connection and try again.");
    });
    xhr.send(new FormData(form));
  }

  // A new token whenever a file is chosen: the form sent twice with it (a double click, a
  // retry) stores the file once. The server's own token stays where randomUUID is missing.
  document.addEventListener("change", function (event) {
    var input = event.target;
    var form = input.form;
    if (input.type !== "file" || !form || !form.classList.contains("upload-form")) {
      return;
    }
    var token = form.querySelector("input.upload-token");
    if (token && window.crypto && window.crypto.randomUUID) {
      token.value = window.crypto.randomUUID();
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
