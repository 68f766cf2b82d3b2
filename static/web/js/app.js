// Small behaviours shared by the pages; every page works without them.
(function () {
  "use strict";
  // Ask before an action that cannot be undone (forms marked data-confirm).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
