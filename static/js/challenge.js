/* Proof of work for the intake form and the mailbox login (reporting/challenge.py, crypto/work.py).
 *
 * The page carries a challenge; this script searches, with the browser's own SHA-256 (WebCrypto),
 * for a counter such that SHA-256(challenge + ":" + counter) starts with the asked number of zero
 * bits: about a second on a phone, started as soon as the page is shown. It reads nothing about the
 * device and sends nothing but the counter with the form. Without JavaScript, or where WebCrypto is
 * missing, the form is sent as it is and the server serves it from its budget for such requests.
 */
(function () {
  "use strict";

  var input = document.querySelector("input[name=challenge][data-challenge-bits]");
  if (!input || !input.form || !window.crypto || !window.crypto.subtle || !window.TextEncoder || !window.Promise) {
    return;
  }
  var form = input.form;
  var solutionField = form.querySelector("input[name=solution]");
  var status = form.querySelector("[data-challenge-status]");
  var bits = parseInt(input.getAttribute("data-challenge-bits"), 10);
  var encoder = new TextEncoder();
  var prefix = encoder.encode(input.value + ":");
  // Digests asked for at once: WebCrypto answers each asynchronously, so one at a time would wait.
  var BATCH = 256;
  // A submit waits at most this long for the search; then the form goes without a solution.
  var GIVE_UP_MS = 20000;
  var solved = false;
  var sending = false;

  function zeroBits(bytes) {
    var count = 0;
    for (var i = 0; i < bytes.length; i++) {
      var b = bytes[i];
      if (b === 0) {
        count += 8;
        continue;
      }
      while ((b & 0x80) === 0) {
        count++;
        b <<= 1;
      }
      break;
    }
    return count;
  }

  function attempt(counter) {
    var digits = encoder.encode(String(counter));
    var message = new Uint8Array(prefix.length + digits.length);
    message.set(prefix);
    message.set(digits, prefix.length);
    return window.crypto.subtle.digest("SHA-256", message).then(function (digest) {
      return zeroBits(new Uint8Array(digest)) >= bits ? counter : -1;
    });
  }

  function search(start) {
    var batch = [];
    for (var i = 0; i < BATCH; i++) {
      batch.push(attempt(start + i));
    }
    return Promise.all(batch).then(function (results) {
      for (var j = 0; j < results.length; j++) {
        if (results[j] >= 0) {
          return results[j];
        }
      }
      return search(start + BATCH);
    });
  }

  var work = search(0).then(
    function (counter) {
      solutionField.value = String(counter);
      solved = true;
    },
    function () {
      solved = true; // WebCrypto refused: the form goes without a solution
    }
  );

  function send() {
    if (sending) {
      return;
    }
    sending = true;
    form.submit();
  }

  form.addEventListener("submit", function (event) {
    if (solved || sending) {
      return;
    }
    event.preventDefault();
    if (status) {
      status.hidden = false;
      status.textContent = status.getAttribute("data-waiting");
    }
    var timer = window.setTimeout(send, GIVE_UP_MS);
    work.then(function () {
      window.clearTimeout(timer);
      send();
    });
  });
})();
