{% load i18n %}// The vahva app's service worker: keeps the app's shell for offline use, shows a notification
// for each Web Push about a sign-in request, and brings the app forward when one is tapped.
// Served by a view from /app/sw.js (scope /app/); the texts come from the server's catalogue.
"use strict";

const VERSION = "{{ version }}";
const CACHE = `vahva-app-${VERSION}`;
const SCOPE = "{{ scope }}";
const SHELL = {{ shell|safe }};
const ICON = "{{ icon }}";
{% translate "Sign-in request" as title %}{% blocktranslate asvar body with organisation="{organisation}" %}{{ organisation }} asks you to approve a sign-in. Open the app to answer.{% endblocktranslate %}{% translate "Open the app to approve or deny a sign-in." as plain %}{% translate "The helpdesk is checking it's you" as helpdesk_title %}{% translate "Open the app and type the number the helpdesk reads to you." as helpdesk_body %}
const TEXT = {
  title: "{{ title|escapejs }}",
  body: "{{ body|escapejs }}",
  plain: "{{ plain|escapejs }}",
  helpdeskTitle: "{{ helpdesk_title|escapejs }}",
  helpdeskBody: "{{ helpdesk_body|escapejs }}",
};

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("vahva-app-") && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

// Network first, so a deployment's new app is used at once; the cache only when offline.
async function networkFirst(request, key, keep) {
  try {
    const response = await fetch(request);
    if (keep && response.ok) {
      const cache = await caches.open(CACHE);
      await cache.put(key, response.clone());
    }
    return response;
  } catch (error) {
    const cached = await caches.match(key, { cacheName: CACHE });
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  // The device API is never cached: every answer there is live and signed.
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname.startsWith(SCOPE)) {
    // Every page of the app is the same shell; only /app/ itself is kept (the enrolment page
    // is no-store and has nothing the shell lacks).
    event.respondWith(networkFirst(request, SCOPE, url.pathname === SCOPE));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(networkFirst(request, url.pathname, true));
  }
});

async function tellWindows(message) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) client.postMessage(message);
  return windows;
}

async function notify(data) {
  // An open app polls at once instead of waiting for its next round.
  await tellWindows({ type: "vahva-challenge", challenge: data.challenge || null });
  const organisation = typeof data.organisation === "string" ? data.organisation : "";
  const helpdesk = data.purpose === "helpdesk";
  let body = organisation ? TEXT.body.replace("{organisation}", () => organisation) : TEXT.plain;
  if (helpdesk) body = TEXT.helpdeskBody;
  // userVisibleOnly: every push shows a notification, even when the app is open.
  await self.registration.showNotification(helpdesk ? TEXT.helpdeskTitle : TEXT.title, {
    body,
    icon: ICON,
    badge: ICON,
    tag: data.challenge ? `challenge-${data.challenge}` : "vahva-request",
    requireInteraction: true,
    data: { url: SCOPE },
  });
}

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = {};
  }
  if (data === null || typeof data !== "object") data = {};
  event.waitUntil(notify(data));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    (async () => {
      const windows = await tellWindows({ type: "vahva-challenge", challenge: null });
      for (const client of windows) {
        if (new URL(client.url).pathname.startsWith(SCOPE) && "focus" in client) {
          return client.focus();
        }
      }
      return self.clients.openWindow(SCOPE);
    })(),
  );
});
