/* The portal's own script: progress while a campaign file is sent and imported, and the
   last word of a prepared delivery report. Every page works without it. */
(function () {
  "use strict";

  var MEGABYTE = 1024 * 1024;
  var STORING = "Checking and storing the rows; a million rows take about a minute";

  function megabytes(bytes, total) {
    return (bytes / MEGABYTE).toFixed(total < 10 * MEGABYTE ? 1 : 0);
  }

  // Show the server's answer as if the browser had posted the form itself: the campaign's
  // page after the redirect of an import that worked, or the form with its problems.
  function showAnswer(xhr) {
    if (xhr.responseURL && xhr.responseURL !== location.href) {
      history.replaceState(null, "", xhr.responseURL);
    }
    document.open();
    document.write(xhr.responseText);
    document.close();
  }

  function sendWithProgress(form, box) {
    var bar = box.querySelector("progress");
    var status = box.querySelector(".progress-text");
    var button = form.querySelector("button[type=submit]");
    var shownAt = 0;

    form.addEventListener("submit", function (event) {
      var xhr = new XMLHttpRequest();
      event.preventDefault();
      xhr.open("POST", form.action);
      xhr.upload.addEventListener("progress", function (sent) {
        if (!sent.lengthComputable) {
          return;
        }
        bar.max = sent.total;
        bar.value = sent.loaded;
        // The text is read out by screen readers: change it at most once a second.
        if (Date.now() - shownAt < 1000 && sent.loaded < sent.total) {
          return;
        }
        shownAt = Date.now();
        status.textContent = "Sending the file: " + megabytes(sent.loaded, sent.total) +
          " of " + megabytes(sent.total, sent.total) + " MB";
      });
      xhr.upload.addEventListener("load", function () {
        bar.removeAttribute("value");
        status.textContent = STORING;
      });
      xhr.addEventListener("load", function () {
        showAnswer(xhr);
      });
      // No answer at all (the connection broke, or the request was cut off): say so, and let
      // the person try again.
      xhr.addEventListener("loadend", function () {
        if (xhr.status !== 0) {
          return;
        }
        bar.removeAttribute("value");
        status.textContent = "The file could not be sent: the connection to the portal " +
          "broke off. Nothing was imported. Check the connection, then import it again.";
        button.disabled = false;
      });
      status.textContent = "Sending the file";
      box.hidden = false;
      button.disabled = true;
      xhr.send(new FormData(form));
    });
  }

  var uploadForm = document.getElementById("upload-form");
  var uploadBox = document.getElementById("upload-progress");
  if (uploadForm && uploadBox && window.FormData && "upload" in new XMLHttpRequest()) {
    sendWithProgress(uploadForm, uploadBox);
  }

  // htmx follows HX-Redirect (the finished report's file) without swapping the answer in;
  // the answer says the report is ready, so show it instead of the last progress.
  document.addEventListener("htmx:afterOnLoad", function (event) {
    var area = document.getElementById("report-progress");
    var xhr = event.detail.xhr;
    if (area && area.contains(event.detail.target) && xhr.status === 200 &&
        xhr.getResponseHeader("HX-Redirect") && window.htmx) {
      window.htmx.swap(area, xhr.responseText, { swapStyle: "innerHTML" });
    }
  });
}());
