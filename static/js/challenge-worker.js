/* The search of static/js/challenge.js, off the page's main thread: typing stays smooth meanwhile.
 * Receives {challenge, bits}; answers {counter} (or {failed: true} where WebCrypto refuses). */
"use strict";

// Digests asked for at once: WebCrypto answers each asynchronously, so one at a time would wait.
var BATCH = 256;

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

function search(prefix, bits) {
  var encoder = new TextEncoder();
  function attempt(counter) {
    var digits = encoder.encode(String(counter));
    var message = new Uint8Array(prefix.length + digits.length);
    message.set(prefix);
    message.set(digits, prefix.length);
    return self.crypto.subtle.digest("SHA-256", message).then(function (digest) {
      return zeroBits(new Uint8Array(digest)) >= bits ? counter : -1;
    });
  }
  function from(start) {
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
      return from(start + BATCH);
    });
  }
  return from(0);
}

self.onmessage = function (event) {
  var prefix = new TextEncoder().encode(event.data.challenge + ":");
  search(prefix, event.data.bits).then(
    function (counter) {
      self.postMessage({ counter: counter });
    },
    function () {
      self.postMessage({ failed: true });
    }
  );
};
