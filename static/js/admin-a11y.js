// The admin's accessibility fixes for markup that Django's own scripts write.
//
// The two-box selector of many-to-many fields (SelectFilter2.js) puts its help in an
// aria-label on a plain <span>, where ARIA does not allow one and screen readers may skip
// it: giving the icon the role of an image makes the label valid and announced.
//
// The search boxes of autocomplete fields (select2) are named by the text of the choice
// shown, which is empty until one is chosen: they are named by the field's label first.
(function () {
  "use strict";

  function nameComboboxes(root) {
    var boxes = root.querySelectorAll(".select2-selection[role=combobox][aria-labelledby]");
    for (var i = 0; i < boxes.length; i++) {
      var ids = boxes[i].getAttribute("aria-labelledby").split(" ");
      var shown = ids[ids.length - 1];
      var field = shown.replace(/^select2-/, "").replace(/-container$/, "");
      var label = document.querySelector('label[for="' + field + '"]');
      if (!label) continue;
      if (!label.id) label.id = field + "-label";
      if (ids.indexOf(label.id) === -1) {
        boxes[i].setAttribute("aria-labelledby", label.id + " " + shown);
      }
      // Inside it, the (read-only) text of the choice: named by the label too.
      var text = document.getElementById(shown);
      if (text && !text.hasAttribute("aria-labelledby")) {
        text.setAttribute("aria-labelledby", label.id + " " + shown);
      }
    }
  }

  function fix(root) {
    if (!root.querySelectorAll) return;
    var icons = root.querySelectorAll("span.help-tooltip[aria-label]:not([role])");
    for (var i = 0; i < icons.length; i++) icons[i].setAttribute("role", "img");
    nameComboboxes(root);
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
