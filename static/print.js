// The print view's button: opens the browser's print dialog (no inline script: the CSP).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print-button");
  if (button) {
    button.addEventListener("click", () => window.print());
  }
});
