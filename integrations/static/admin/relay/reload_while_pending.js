// A page waiting for work queued elsewhere (#dixa-pending, data-reload-seconds) reloads
// itself until the server stops asking; never over something typed into its form.
(() => {
  const pending = document.querySelector("[data-reload-seconds]");
  const seconds = Number(pending && pending.dataset.reloadSeconds);
  if (!seconds) return;
  let typed = false;
  document.addEventListener("input", () => { typed = true; });
  setTimeout(() => {
    if (typed) {
      pending.textContent += " (Not reloaded: the form has changes; reload yourself.)";
    } else {
      window.location.reload();
    }
  }, seconds * 1000);
})();
