// Registers the service worker and shows the offline banner.
(function () {
  "use strict";
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/serviceworker.js", { scope: "/" }).catch(function () {});
  }
  var banner = document.getElementById("offline-banner");
  function update() {
    if (banner) banner.hidden = navigator.onLine;
    document.documentElement.classList.toggle("is-offline", !navigator.onLine);
  }
  window.addEventListener("online", update);
  window.addEventListener("offline", update);
  update();
})();
// On logout, forget the pages kept for offline reading (the phone may be shared).
document.addEventListener("submit", function (event) {
  if (event.target.matches && event.target.matches("form[action$='/esci/']") && window.caches) {
    caches.keys().then(function (keys) { keys.forEach(function (k) { caches.delete(k); }); });
  }
});
