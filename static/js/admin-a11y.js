// The admin's accessibility fixes for markup that Django's own scripts write.
//
// The two-box selector of many-to-many fields (SelectFilter2.js) puts its help in an
// aria-label on a plain <span>, where ARIA does not allow one and screen readers may skip
// it: giving the icon the role of an image makes the label valid and announced.
(function () {
  "use strict";

  function fix(root) {
    if (!root.querySelectorAll) return;
    var icons = root.querySelectorAll("span.help-tooltip[aria-label]:not([role])");
    for (var i = 0; i < icons.length; i++) icons[i].setAttribute("role", "img");
  }

  new MutationObserver(function (changes) {
    for (var i = 0; i < changes.length; i++) {
      var added = changes[i].addedNodes;
      for (var j = 0; j < added.length; j++) {
        if (added[j].nodeType === 1) fix(added[j].parentNode || added[j]);
      }
    }
  }).observe(document.documentElement, { childList: true, subtree: true });
})();
