// Small behaviours shared by the pages; every page works without them.
(function () {
  "use strict";
  // Ask before an action that cannot be undone (forms marked data-confirm).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
  // Show the chosen file's name next to the page's own file button.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input || input.type !== "file") return;
    var field = input.closest(".field");
    var name = field && field.querySelector("[data-file-name]");
    if (name && input.files && input.files.length) name.textContent = input.files[0].name;
  });
})();
