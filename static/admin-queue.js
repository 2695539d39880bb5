// The admin's queue list: a "select all" box, and a confirmation before a button that
// cannot be undone (data-confirm). Everything works without it.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var all = document.getElementById("queue-all");
    if (all) {
      all.hidden = false;
      all.addEventListener("change", function () {
        document.querySelectorAll('#queue-list input[name="id"]').forEach(function (box) {
          box.checked = all.checked;
        });
      });
    }
    document.querySelectorAll("button[data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    });
  });
})();
