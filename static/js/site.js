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
    // A radio group's legend (the star rating), else the field's label.
    const legend = field.type === "radio" && field.closest("fieldset")?.querySelector("legend");
    const label = legend || document.querySelector(`label[for="${field.id}"]`);
    (label || field).scrollIntoView();
    field.focus({ preventScroll: true });
  });
}

// The home page's filters apply as soon as one changes (the Apply button, for pages without
// JavaScript, is hidden by the "js" class). Empty fields, and an order that is the default
// one (data-default), are left out of the address, so the URL is the list's own (the server
// would redirect a URL with empty parameters to it).
document.documentElement.classList.add("js");
const browse = document.querySelector("form.browse");
if (browse) {
  browse.addEventListener("change", (event) => {
    if (event.target.matches(".filters select")) browse.requestSubmit();
  });
  browse.addEventListener("submit", () => {
    for (const field of browse.elements) {
      if (field.name && (!field.value || field.value === field.dataset.default)) {
        field.disabled = true;
      }
    }
  });
  // Back to a page whose fields were disabled for its submission (the back-forward cache).
  window.addEventListener("pageshow", () => {
    for (const field of browse.elements) field.disabled = false;
  });
}
