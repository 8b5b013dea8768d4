/* The receipt page, enhanced: "Code kopieren" and "Seite drucken". Without JavaScript both stay hidden. */
(function () {
  "use strict";

  var code = document.querySelector("[data-receipt-code]");
  var status = document.querySelector("[data-copy-status]");
  var copyButton = document.querySelector("[data-copy-code]");
  var printButton = document.querySelector("[data-print-page]");

  function show(feature) {
    var wrapper = document.querySelector('[data-enhance="' + feature + '"]');
    if (wrapper) {
      wrapper.hidden = false;
    }
  }

  function say(text) {
    // Emptied first, so that saying the same thing twice is announced twice.
    status.textContent = "";
    window.setTimeout(function () {
      status.textContent = text;
    }, 100);
  }

  function copyBySelection() {
    var selection = window.getSelection();
    var range = document.createRange();
    range.selectNodeContents(code);
    selection.removeAllRanges();
    selection.addRange(range);
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    selection.removeAllRanges();
    return copied;
  }

  function copyCode() {
    var text = code.textContent.trim();
    var done = function () { say(copyButton.getAttribute("data-copied")); };
    var failed = function () {
      if (copyBySelection()) {
        done();
      } else {
        say(copyButton.getAttribute("data-failed"));
      }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, failed);
    } else {
      failed();
    }
  }

  if (code && status && copyButton) {
    copyButton.addEventListener("click", copyCode);
    show("copy");
  }
  if (printButton && typeof window.print === "function") {
    printButton.addEventListener("click", function () { window.print(); });
    show("print");
  }
})();
