// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  var buttons = document.querySelectorAll(".js-print");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", function () {
      window.print();
    });
  }
  var hints = document.querySelectorAll(".js-print-hint");
  for (var j = 0; j < hints.length; j++) {
    hints[j].hidden = true;
  }
})();
