// Restaurant Review: small enhancements; every page works without them.
// A form that comes back with errors: move focus to its error summary, so screen readers
// announce it and the keyboard starts there; a link in the summary focuses its field.
// (The GOV.UK Design System's error summary does the same.) Focus moves once the page has
// loaded: scrolling to the form's #fragment would otherwise take it back to the page.
const summary = document.querySelector(".error-summary");
if (summary) {
  window.addEventListener("load", () => summary.focus());
  summary.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#']");
    const field = link && document.getElementById(link.hash.slice(1));
    if (!field) return;
    event.preventDefault();
    const label = document.querySelector(`label[for="${field.id}"]`);
    (label || field).scrollIntoView();
    field.focus({ preventScroll: true });
  });
}
