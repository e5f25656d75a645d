// BuonoComune service worker: the beneficiary's voucher pages stay readable offline.
// Pages are fetched from the network first and kept; without network the last copy is
// shown, marked as such by the page's offline banner. Money never moves offline: API
// requests are never cached. The till's pages are never kept either (they carry the shop's
// sales and its CSRF token): opened without network, the till shows its own offline page.
var CACHE = "buonocomune-v1";
var TILL_OFFLINE = "/cassa/senza-rete/";
var PRECACHE = [
  "/", "/static/css/app.css", "/static/js/app.js", "/offline/",
  "/static/css/till.css", TILL_OFFLINE
];

self.addEventListener("install", function (event) {
  event.waitUntil(
    // Without credentials: a response fetched here must never set or replace the CSRF
    // cookie of a page the person is filling in at the same moment.
    caches.open(CACHE).then(function (cache) {
      return cache.addAll(PRECACHE.map(function (url) {
        return new Request(url, { credentials: "omit" });
      }));
    })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k !== CACHE; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function cacheable(request) {
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return false;
  if (url.pathname.indexOf("/api/") === 0 || url.pathname.indexOf("/admin/") === 0) return false;
  if (url.pathname.indexOf("/cassa/") === 0) return false;
  return true;
}

function tillPage(request) {
  var url = new URL(request.url);
  return request.method === "GET" && request.mode === "navigate" &&
    url.origin === self.location.origin && url.pathname.indexOf("/cassa/") === 0;
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (tillPage(request)) {
    event.respondWith(fetch(request).catch(function () {
      return caches.match(TILL_OFFLINE).then(function (page) {
        return page || caches.match("/offline/");
      });
    }));
    return;
  }
  if (!cacheable(request)) return;
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok && response.type === "basic") {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(request).then(function (cached) {
        return cached || caches.match("/offline/");
      });
    })
  );
});
