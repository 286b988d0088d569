// The vahva app: enrol from the QR link, show and answer sign-in requests, show the offline
// codes, remove an account. Every text is in the page (authenticator/app.html); this script
// only shows, hides and fills elements.

import { ApiError, b64urlDecode, call, enrol, forgetAccount, loadAccounts } from "./device.js";
import { totp } from "./otp.js";
import { follow } from "./stream.js";

const main = document.getElementById("main");
const API = main.dataset.api;
const POLL_MS = 2500;
// While every account's event stream is open, polling is only a safety net.
const POLL_STREAMING_MS = 30000;
// A stream the server ends sooner than this is not kept open there (Django's test server
// answers with the first event only): the app then relies on polling until shown again.
const STREAM_MIN_MS = 5000;
const STEP = 30;
const CODE = /^[A-Za-z0-9_-]{16,128}$/;
// What a request is for: a sign-in, the test when adding the account, or the helpdesk
// checking that a caller is the person. Elements say in data-purpose which ones show them.
const PURPOSES = ["signin", "test", "helpdesk"];

const state = {
  accounts: [],
  cards: new Map(), // device id -> account card
  requests: new Map(), // challenge id -> {challenge, account, card, done, busy}
  timer: null,
  streams: new Map(), // device id -> {controller, live}
  polling: false,
  again: false,
};

const $ = (id) => document.getElementById(id);
const text = (name) => {
  const element = document.querySelector(`#texts [data-text="${name}"]`);
  return element ? element.textContent.trim() : "";
};
const field = (root, name) => root.querySelector(`[data-field="${name}"]`);
let serial = 0;

function announce(message) {
  const announcer = $("announcer");
  announcer.textContent = "";
  // A fresh text node, a moment later, is read out even when the text repeats.
  setTimeout(() => {
    announcer.textContent = message;
  }, 50);
}

/** Give the template's [data-id] elements unique ids and wire labels to them. */
function instantiate(templateId) {
  const root = $(templateId).content.firstElementChild.cloneNode(true);
  serial += 1;
  for (const element of root.querySelectorAll("[data-id]")) {
    element.id = `${element.dataset.id}-${serial}`;
  }
  for (const label of root.querySelectorAll("label[data-for]")) {
    label.htmlFor = `${label.dataset.for}-${serial}`;
  }
  for (const element of root.querySelectorAll("[data-describedby]")) {
    element.setAttribute("aria-describedby", `${element.dataset.describedby}-${serial}`);
  }
  return root;
}

function isAccountGone(error) {
  return error instanceof ApiError && ["device_removed", "unknown_device"].includes(error.code);
}

function noteError(error) {
  if (error instanceof ApiError && error.code === "stale_request") $("clock-wrong").hidden = false;
  $("offline").hidden = !(error instanceof ApiError && error.status === 0);
}

function messageOf(error) {
  if (error instanceof ApiError && error.serverMessage) return error.serverMessage;
  return text("network-error");
}

// --- views ------------------------------------------------------------------------------

function showView() {
  const enrolling = $("enrol").hidden === false;
  $("home").hidden = enrolling || state.accounts.length === 0;
  $("empty").hidden = enrolling || state.accounts.length > 0;
}

// --- enrolment --------------------------------------------------------------------------

function guessName(input) {
  const agent = navigator.userAgent;
  if (/iPad/.test(agent)) return input.dataset.ipad;
  if (/iPhone/.test(agent)) return input.dataset.iphone;
  if (/Android/.test(agent)) return input.dataset.android;
  return input.value;
}

function askNotifications() {
  // Asked inside the tap on "Add account": browsers allow the question only then.
  try {
    if (!("Notification" in window)) return Promise.resolve("denied");
    if (Notification.permission !== "default") return Promise.resolve(Notification.permission);
    return Promise.resolve(Notification.requestPermission()).catch(() => "denied");
  } catch (error) {
    return Promise.resolve("denied");
  }
}

/** Subscribe to Web Push and tell the server; any failure is silent (polling is the floor). */
async function syncPush(account, permission) {
  try {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) return;
    if ((await permission) !== "granted") return;
    const registration = await navigator.serviceWorker.ready;
    let subscription = await registration.pushManager.getSubscription();
    if (!subscription) {
      subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: b64urlDecode(account.vapidKey),
      });
    }
    await call(account, "PUT", `${API}/device/push-subscription`, () => subscription.toJSON());
  } catch (error) {
    // No push service (a desktop browser without one, a headless browser), a refused
    // permission or a subscription the server does not take: the app polls while open.
  }
}

function startEnrol() {
  const section = $("enrol");
  section.hidden = false;
  showView();
  const code = location.hash.slice(1);
  const form = $("enrol-form");
  if (!CODE.test(code)) {
    $("enrol-no-code").hidden = false;
    form.hidden = true;
    return;
  }
  const input = $("device-name");
  input.value = guessName(input);
  const error = $("enrol-error");
  const busy = $("enrol-busy");
  const submit = $("enrol-submit");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (!name) {
      error.textContent = text("name-missing");
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    input.removeAttribute("aria-invalid");
    const permission = askNotifications();
    error.hidden = true;
    busy.hidden = false;
    submit.disabled = true;
    try {
      const account = await enrol(API, { code, name });
      // The code is used up; keep it out of the history and of any later copy of the address.
      history.replaceState(null, "", main.dataset.home);
      document.title = main.dataset.title;
      section.hidden = true;
      state.accounts.push(account);
      addAccountCard(account);
      showView();
      announce(text("enrolled"));
      $("requests-title").setAttribute("tabindex", "-1");
      $("requests-title").focus();
      poll();
      stream(account);
      syncPush(account, permission);
    } catch (failure) {
      noteError(failure);
      error.textContent = messageOf(failure);
      error.hidden = false;
      submit.disabled = false;
      submit.focus();
    } finally {
      busy.hidden = true;
    }
  });
}

// --- accounts and offline codes ---------------------------------------------------------

function addAccountCard(account) {
  const card = instantiate("account-template");
  field(card, "account").textContent = account.account;
  field(card, "organisation").textContent = account.organisation;
  field(card, "name").textContent = account.name;
  const confirm = field(card, "confirm");
  const removeButton = card.querySelector('[data-action="remove"]');
  removeButton.addEventListener("click", () => {
    confirm.hidden = false;
    removeButton.hidden = true;
    card.querySelector('[data-action="cancel-remove"]').focus();
  });
  card.querySelector('[data-action="cancel-remove"]').addEventListener("click", () => {
    confirm.hidden = true;
    removeButton.hidden = false;
    removeButton.focus();
  });
  card.querySelector('[data-action="confirm-remove"]').addEventListener("click", () =>
    removeAccount(account, card),
  );
  card.step = null;
  state.cards.set(account.device, card);
  $("account-list").append(card);
  tick();
}

async function removeAccount(account, card) {
  const error = field(card, "remove-error");
  error.hidden = true;
  try {
    await call(account, "DELETE", `${API}/device`);
  } catch (failure) {
    if (!isAccountGone(failure)) {
      noteError(failure);
      error.textContent = messageOf(failure);
      error.hidden = false;
      return;
    }
  }
  state.streams.get(account.device)?.controller.abort();
  try {
    await forgetAccount(account.device);
  } catch (failure) {
    error.textContent = messageOf(failure);
    error.hidden = false;
    return;
  }
  state.accounts = state.accounts.filter((a) => a.device !== account.device);
  state.cards.delete(account.device);
  card.remove();
  for (const [id, entry] of state.requests) {
    if (entry.account.device === account.device) {
      entry.card.remove();
      state.requests.delete(id);
    }
  }
  updateNoRequests();
  showView();
  announce(text("removed"));
  main.focus();
  if (state.accounts.length === 0) dropPushSubscription();
}

async function dropPushSubscription() {
  try {
    const registration = await navigator.serviceWorker.getRegistration(main.dataset.scope);
    const subscription = registration && (await registration.pushManager.getSubscription());
    if (subscription) await subscription.unsubscribe();
  } catch (error) {
    // Nothing to undo.
  }
}

/** Refresh every account's code and countdown (once a second). */
async function tick() {
  try {
    await showCodes();
  } catch (error) {
    // A key the browser can no longer use: the code stays empty, the rest of the app works.
  }
}

async function showCodes() {
  const now = Date.now() / 1000;
  const left = STEP - (Math.floor(now) % STEP);
  for (const account of state.accounts) {
    const card = state.cards.get(account.device);
    if (!card) continue;
    const step = Math.floor(now / STEP);
    if (card.step !== step) {
      card.step = step;
      const code = await totp(account.totpKey, now);
      card.querySelector("output.code").value = code;
    }
    field(card, "seconds").textContent = String(left);
    field(card, "progress").value = left;
  }
}

// --- requests ---------------------------------------------------------------------------

function locationText(challenge) {
  if (!challenge.ip) return text("unknown");
  const names = {
    "this-computer": "location-this-computer",
    "local-network": "location-local-network",
  };
  return text(names[challenge.location] || "location-internet");
}

function timeText(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  return new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    hour: "2-digit",
    minute: "2-digit",
  }).format(when);
}

function updateNoRequests() {
  const open = [...state.requests.values()].some((entry) => !entry.done);
  $("no-requests").hidden = open;
}

function addRequest(account, challenge) {
  const card = instantiate("request-template");
  card.dataset.challenge = challenge.id;
  const purpose = PURPOSES.includes(challenge.purpose) ? challenge.purpose : "signin";
  for (const element of card.querySelectorAll("[data-purpose]")) {
    element.hidden = !element.dataset.purpose.split(" ").includes(purpose);
  }
  field(card, "account").textContent = account.account;
  field(card, "organisation").textContent = challenge.organisation || account.organisation;
  field(card, "service").textContent = challenge.service || text("service-none");
  const time = field(card, "time");
  time.dateTime = challenge.created_at;
  time.textContent = timeText(challenge.created_at);
  field(card, "ip").textContent = challenge.ip || text("unknown");
  field(card, "location").textContent = locationText(challenge);
  field(card, "outside").hidden = challenge.outside_network !== true;
  // Approve-only (a VPN that cannot show a number): the question instead of a number field.
  const approveOnly = purpose === "signin" && challenge.match === "none";
  field(card, "number-field").hidden = approveOnly;
  field(card, "no-number").hidden = !approveOnly;
  const question = field(card, "question");
  question.hidden = !approveOnly;
  if (approveOnly) {
    const values = {
      service: challenge.service || text("service-none"),
      address: challenge.ip || text("unknown"),
    };
    question.textContent = text("approve-question").replace(
      /\{(service|address)\}/g,
      (_whole, name) => values[name],
    );
  }
  const entry = { challenge, account, card, done: false, busy: false, approveOnly };
  const form = card.querySelector("form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const decision = event.submitter ? event.submitter.value : "approve";
    answer(entry, decision);
  });
  card.querySelector('[data-action="close"]').addEventListener("click", () => {
    card.remove();
    main.focus();
  });
  state.requests.set(challenge.id, entry);
  $("request-list").append(card);
  updateNoRequests();
  announce(text("new-request"));
  // Nothing else has the focus: take the person (and a screen reader) to the request.
  if (document.activeElement === document.body || document.activeElement === main) {
    card.querySelector(".request-title").focus();
  }
}

function finish(entry, outcome) {
  const { card } = entry;
  const hadFocus = card.contains(document.activeElement);
  entry.done = true;
  card.querySelector("form").hidden = true;
  card.classList.add("finished");
  for (const element of card.querySelectorAll("[data-result]")) {
    element.hidden = element.dataset.result !== outcome;
  }
  const close = card.querySelector('[data-action="close"]');
  close.hidden = false;
  if (hadFocus) close.focus();
  updateNoRequests();
}

function showAnswerError(entry, message) {
  const error = field(entry.card, "error");
  error.textContent = message;
  error.hidden = false;
}

async function answer(entry, decision) {
  if (entry.busy || entry.done) return;
  const input = entry.card.querySelector("input.number");
  let number;
  if (decision === "approve" && !entry.approveOnly) {
    const typed = input.value.trim();
    if (!/^[0-9]{2}$/.test(typed)) {
      const helpdesk = entry.challenge.purpose === "helpdesk";
      showAnswerError(entry, text(helpdesk ? "number-missing-helpdesk" : "number-missing"));
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    number = Number(typed);
  }
  input.removeAttribute("aria-invalid");
  field(entry.card, "error").hidden = true;
  const buttons = entry.card.querySelectorAll("form button");
  entry.busy = true;
  for (const button of buttons) button.disabled = true;
  const { id, nonce } = entry.challenge;
  try {
    const result = await call(entry.account, "POST", `${API}/answer`, (timestamp) => ({
      challenge: id,
      nonce,
      decision,
      number: number === undefined ? null : number,
      timestamp,
    }));
    finish(entry, result.state);
  } catch (failure) {
    noteError(failure);
    if (failure instanceof ApiError && failure.code === "wrong_number") {
      showAnswerError(entry, messageOf(failure));
      input.value = "";
      input.setAttribute("aria-invalid", "true");
      input.focus();
      await settle(entry).catch(noteError);
    } else if (failure instanceof ApiError && failure.code === "already_answered") {
      await settle(entry).catch(noteError);
    } else if (failure instanceof ApiError && failure.code === "expired") {
      finish(entry, "expired");
    } else {
      showAnswerError(entry, messageOf(failure));
    }
  } finally {
    entry.busy = false;
    for (const button of buttons) button.disabled = false;
  }
}

/** A request no longer waiting here: say how it ended (unless it is still open). */
async function settle(entry) {
  let result;
  try {
    result = await call(
      entry.account,
      "GET",
      `${API}/challenges/${encodeURIComponent(entry.challenge.id)}`,
    );
  } catch (failure) {
    if (failure instanceof ApiError && failure.code === "unknown_challenge") {
      finish(entry, "expired");
      return;
    }
    throw failure;
  }
  if (result.state === "pending") return;
  if (result.state === "expired") finish(entry, "expired");
  else if (!result.answered_here) finish(entry, "elsewhere");
  else finish(entry, result.state === "reported" ? "reported" : result.state);
}

function markGone(account) {
  const card = state.cards.get(account.device);
  if (card) field(card, "removed").hidden = false;
}

async function pollAccount(account) {
  let data;
  try {
    data = await call(account, "GET", `${API}/pending`);
  } catch (failure) {
    if (isAccountGone(failure)) {
      markGone(account);
      return;
    }
    throw failure;
  }
  const waiting = new Set();
  for (const challenge of data.challenges) {
    waiting.add(challenge.id);
    if (!state.requests.has(challenge.id)) addRequest(account, challenge);
  }
  for (const entry of [...state.requests.values()]) {
    if (entry.account.device !== account.device || entry.done || entry.busy) continue;
    if (!waiting.has(entry.challenge.id)) await settle(entry);
  }
}

function allStreaming() {
  return state.accounts.every((account) => state.streams.get(account.device)?.live);
}

function schedule(delay) {
  clearTimeout(state.timer);
  state.timer = null;
  // Only while the app is on screen; in the background a Web Push brings it forward.
  if (document.visibilityState === "visible" && state.accounts.length > 0) {
    state.timer = setTimeout(poll, delay ?? (allStreaming() ? POLL_STREAMING_MS : POLL_MS));
  }
}

function openRequestIds(account) {
  const ids = [];
  for (const [id, entry] of state.requests) {
    if (entry.account.device === account.device && !entry.done) ids.push(id);
  }
  return ids.sort().join(" ");
}

/** Follow ``account``'s event stream while the app is visible; poll when it says so. */
async function stream(account) {
  if (state.streams.has(account.device) || document.visibilityState !== "visible") return;
  const controller = new AbortController();
  const entry = { controller, live: false };
  state.streams.set(account.device, entry);
  const opened = Date.now();
  const liveTimer = setTimeout(() => {
    entry.live = true;
  }, STREAM_MIN_MS);
  let retry = null;
  try {
    retry = await follow(account, `${API}/events`, controller.signal, (data) => {
      const waiting = Array.isArray(data.pending) ? [...data.pending].sort().join(" ") : "";
      if (data.removed || waiting !== openRequestIds(account)) poll();
    });
  } catch (error) {
    // Refused, offline or aborted: polling carries on; the next showing tries again.
  } finally {
    clearTimeout(liveTimer);
    state.streams.delete(account.device);
  }
  const lasted = Date.now() - opened;
  const stillHere = state.accounts.some((a) => a.device === account.device);
  if (!controller.signal.aborted && stillHere && lasted >= STREAM_MIN_MS) {
    setTimeout(() => stream(account), Math.max(retry ?? 2000, 1000));
  }
}

function startStreams() {
  for (const account of state.accounts) stream(account);
}

function stopStreams() {
  for (const entry of state.streams.values()) entry.controller.abort();
}

async function poll() {
  if (state.polling) {
    state.again = true;
    return;
  }
  state.polling = true;
  clearTimeout(state.timer);
  try {
    for (const account of [...state.accounts]) await pollAccount(account);
    $("offline").hidden = true;
    $("clock-wrong").hidden = true;
  } catch (failure) {
    noteError(failure);
  } finally {
    state.polling = false;
    if (state.again) {
      state.again = false;
      schedule(0);
    } else {
      schedule();
    }
  }
}

// --- start ------------------------------------------------------------------------------

function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker
    .register(main.dataset.serviceWorker, { scope: main.dataset.scope })
    .catch(() => {
      // Without a worker the app works while open; only offline start and pushes are lost.
    });
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "vahva-challenge") poll();
  });
}

async function start() {
  if (!window.isSecureContext || !window.crypto?.subtle || !("indexedDB" in window)) {
    $("unsupported").hidden = false;
    return;
  }
  registerWorker();
  try {
    state.accounts = await loadAccounts();
  } catch (error) {
    $("unsupported").hidden = false;
    return;
  }
  for (const account of state.accounts) addAccountCard(account);
  if (location.pathname === main.dataset.enroll) startEnrol();
  showView();
  setInterval(tick, 1000);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      poll();
      startStreams();
    } else {
      stopStreams();
      schedule();
    }
  });
  window.addEventListener("focus", () => poll());
  window.addEventListener("online", () => poll());
  window.addEventListener("offline", () => {
    $("offline").hidden = false;
  });
  poll();
  startStreams();
  if ("Notification" in window && Notification.permission === "granted") {
    // Keep the server's copy of the subscription current (browsers renew them now and then).
    for (const account of state.accounts) syncPush(account, Promise.resolve("granted"));
  }
}

start();
