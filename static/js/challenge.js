/* Proof of work for the intake form and the mailbox login (reporting/challenge.py, crypto/work.py).
 *
 * The page carries a challenge; the browser searches, with its own SHA-256 (WebCrypto) in a
 * worker thread (static/js/challenge-worker.js), for a counter such that
 * SHA-256(challenge + ":" + counter) starts with the asked number of zero bits: about a second on
 * a phone, begun once the page has loaded. Nothing about the device is read, and nothing but the
 * counter is sent with the form. Without JavaScript, workers or WebCrypto the form is sent as it is
 * and the server serves it from its budget for such requests.
 */
(function () {
  "use strict";

  var input = document.querySelector("input[name=challenge][data-challenge-bits]");
  if (!input || !input.form || !window.Worker || !window.crypto || !window.crypto.subtle || !window.Promise) {
    return;
  }
  var form = input.form;
  var solutionField = form.querySelector("input[name=solution]");
  var status = form.querySelector("[data-challenge-status]");
  // A submit waits at most this long for the search; then the form goes without a solution.
  var GIVE_UP_MS = 20000;
  var done = false;
  var sending = false;
  var waiting = [];
  var started = false;

  function finish() {
    done = true;
    waiting.splice(0).forEach(function (callback) {
      callback();
    });
  }

  // Begun once the page has loaded, so that its loading is never held up by the search.
  function start() {
    if (started) {
      return;
    }
    started = true;
    var worker;
    try {
      worker = new Worker(input.getAttribute("data-challenge-worker"));
    } catch (error) {
      finish();
      return;
    }
    worker.onmessage = function (event) {
      if (event.data && typeof event.data.counter === "number") {
        solutionField.value = String(event.data.counter);
      }
      worker.terminate();
      finish();
    };
    worker.onerror = function () {
      worker.terminate();
      finish();
    };
    worker.postMessage({ challenge: input.value, bits: parseInt(input.getAttribute("data-challenge-bits"), 10) });
  }

  if (document.readyState === "complete") {
    start();
  } else {
    window.addEventListener("load", start);
  }

  function send() {
    if (sending) {
      return;
    }
    sending = true;
    form.submit();
  }

  form.addEventListener("submit", function (event) {
    if (done || sending) {
      return;
    }
    event.preventDefault();
    if (status) {
      status.hidden = false;
      status.textContent = status.getAttribute("data-waiting");
    }
    start();
    var timer = window.setTimeout(send, GIVE_UP_MS);
    waiting.push(function () {
      window.clearTimeout(timer);
      send();
    });
  });
})();
