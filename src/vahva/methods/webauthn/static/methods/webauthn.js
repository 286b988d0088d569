// Security keys and passkeys: the browser's own prompt (WebAuthn), for the forms marked
// data-webauthn="create" (adding one) or data-webauthn="get" (signing in, confirming).
//
// The options come from the page (the json_script element named by data-options) or, for
// "Sign in with a passkey", from a POST to data-options-url (a fresh challenge each time).
// The browser's answer goes into the form's hidden "code" field as JSON and the form is
// posted: the server checks everything. The texts are the page's own (#webauthn-messages),
// so they come in the person's language. No inline script: the CSP has no 'unsafe-inline'.
(() => {
  "use strict";

  const fromB64url = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
  };
  const toB64url = (buffer) => {
    let text = "";
    for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const descriptors = (list) => (list || []).map((d) => ({ ...d, id: fromB64url(d.id) }));

  // Browsers before the JSON helpers (WebAuthn L3) get the same conversion by hand.
  const creationOptions = (json) => {
    if (window.PublicKeyCredential.parseCreationOptionsFromJSON) {
      return window.PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return {
      ...json,
      challenge: fromB64url(json.challenge),
      user: { ...json.user, id: fromB64url(json.user.id) },
      excludeCredentials: descriptors(json.excludeCredentials),
    };
  };
  const requestOptions = (json) => {
    if (window.PublicKeyCredential.parseRequestOptionsFromJSON) {
      return window.PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return {
      ...json,
      challenge: fromB64url(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    };
  };
  const answerJSON = (credential) => {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const r = credential.response;
    const response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) response.userHandle = toB64url(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      response,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  };

  const texts = () => {
    const box = document.getElementById("webauthn-messages");
    return box ? box.dataset : {};
  };

  const optionsFor = async (form) => {
    if (form.dataset.optionsUrl) {
      const token = form.querySelector("input[name=csrfmiddlewaretoken]");
      const response = await fetch(form.dataset.optionsUrl, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json", "X-CSRFToken": token ? token.value : "" },
      });
      if (!response.ok) throw new Error("options");
      return response.json();
    }
    return JSON.parse(document.getElementById(form.dataset.options).textContent);
  };

  const show = (form, selector, text) => {
    const element = form.querySelector(selector);
    if (!element) return;
    if (text !== undefined) element.textContent = text;
    element.hidden = text === "";
  };

  const failure = (error) => {
    const say = texts();
    switch (error && error.name) {
      case "NotAllowedError":
      case "AbortError":
        return say.cancelled; // closed, timed out, or no matching key at hand
      case "InvalidStateError":
        return say.registered; // excludeCredentials: this key is already registered
      case "SecurityError":
        return say.address; // the page's address is not this deployment's
      default:
        return say.failed;
    }
  };

  const run = async (form, button) => {
    button.disabled = true;
    show(form, "[data-webauthn-error]", "");
    show(form, "[data-webauthn-waiting]", texts().waiting || "");
    try {
      const json = await optionsFor(form);
      const credential =
        form.dataset.webauthn === "create"
          ? await navigator.credentials.create({ publicKey: creationOptions(json) })
          : await navigator.credentials.get({ publicKey: requestOptions(json) });
      if (!credential) throw new DOMException("no answer", "NotAllowedError");
      form.querySelector("input[name=code]").value = JSON.stringify(answerJSON(credential));
      form.submit();
    } catch (error) {
      button.disabled = false;
      show(form, "[data-webauthn-waiting]", "");
      show(form, "[data-webauthn-error]", failure(error) || "");
    }
  };

  document.addEventListener("DOMContentLoaded", () => {
    const supported = Boolean(window.PublicKeyCredential && navigator.credentials);
    for (const form of document.querySelectorAll("form[data-webauthn]")) {
      const button = form.querySelector("[data-webauthn-start]");
      if (!supported || !button) {
        show(form, "[data-webauthn-unsupported]");
        continue;
      }
      button.hidden = false;
      button.addEventListener("click", (event) => {
        event.preventDefault();
        run(form, button);
      });
      // Enter in the name field starts the prompt instead of posting an empty answer.
      form.addEventListener("submit", (event) => {
        if (!form.querySelector("input[name=code]").value) {
          event.preventDefault();
          if (!button.disabled) run(form, button);
        }
      });
    }
  });
})();
