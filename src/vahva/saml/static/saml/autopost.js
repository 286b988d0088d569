// @ts-check
// Posts the SAML response to the service at once; without JavaScript the person presses
// the form's Continue button.
const form = /** @type {HTMLFormElement | null} */ (document.querySelector("form[data-saml-post]"));
if (form) form.submit();
