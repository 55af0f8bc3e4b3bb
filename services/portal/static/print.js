// The print button of the agendas page (the pages run no inline script: see limits.py).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
