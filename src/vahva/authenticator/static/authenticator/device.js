// The device side of the vahva device protocol (vahva/authenticator/protocol.py): a
// non-extractable ECDSA P-256 key per account, requests signed with it, and the accounts kept
// in IndexedDB (CryptoKey objects are stored as they are; their private halves never leave
// WebCrypto, not even to this script).

import { importTotpKey } from "./otp.js";

const VERSION = "vahva-device-v1";
const DB_NAME = "vahva-app";
const STORE = "accounts";
const encoder = new TextEncoder();

// --- encodings --------------------------------------------------------------------------

function base64(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

export function b64url(bytes) {
  return base64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function b64urlDecode(text) {
  const plain = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(plain + "=".repeat((4 - (plain.length % 4)) % 4));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Unix time in whole seconds, as the Vahva-Timestamp header carries it. */
export function unixNow() {
  return Math.floor(Date.now() / 1000);
}

// --- storage ----------------------------------------------------------------------------

function openDb() {
  return new Promise((resolve, reject) => {
    const opening = indexedDB.open(DB_NAME, 1);
    opening.onupgradeneeded = () => {
      opening.result.createObjectStore(STORE, { keyPath: "device" });
    };
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(opening.error);
  });
}

async function withStore(mode, work) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const request = work(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request ? request.result : undefined);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    db.close();
  }
}

/** Every account on this phone, oldest first. */
export async function loadAccounts() {
  const accounts = (await withStore("readonly", (store) => store.getAll())) || [];
  return accounts.sort((a, b) => a.created - b.created);
}

export function saveAccount(account) {
  return withStore("readwrite", (store) => store.put(account));
}

export function forgetAccount(device) {
  return withStore("readwrite", (store) => store.delete(device));
}

// --- signed requests --------------------------------------------------------------------

/** A refusal by the server ({error, message}), or status 0 when it could not be reached. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.serverMessage = message || "";
  }
}

/**
 * Send one signed request; the Response. ``body`` is undefined (GET, DELETE) or a function of
 * the timestamp that returns the JSON body (an answer repeats the timestamp inside its body).
 */
export async function signedFetch({ device, key, method, path, body, signal }) {
  const timestamp = unixNow();
  const bytes = body === undefined ? new Uint8Array() : encoder.encode(JSON.stringify(body(timestamp)));
  const nonce = b64url(crypto.getRandomValues(new Uint8Array(18)));
  const lines = [VERSION, device, method, path, String(timestamp), nonce, await sha256Hex(bytes)];
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, encoder.encode(lines.join("\n"))),
  );
  const headers = {
    Accept: "application/json",
    "Vahva-Timestamp": String(timestamp),
    "Vahva-Nonce": nonce,
    "Vahva-Signature": b64url(signature),
  };
  if (device) headers["Vahva-Device"] = device;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : bytes,
      cache: "no-store",
      // Signed requests need no cookie: none is sent, so none can be abused.
      credentials: "omit",
      referrerPolicy: "no-referrer",
      signal,
    });
  } catch (error) {
    throw new ApiError(0, "network", "");
  }
  if (!response.ok) {
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    throw new ApiError(response.status, data?.error || "http", data?.message || "");
  }
  return response;
}

/** A signed request whose answer is JSON. */
export async function signedRequest(request) {
  const response = await signedFetch(request);
  try {
    return await response.json();
  } catch (error) {
    throw new ApiError(response.status, "http", "");
  }
}

/** A request signed by ``account``'s key. */
export function call(account, method, path, body) {
  return signedRequest({ device: account.device, key: account.signKey, method, path, body });
}

/**
 * Enrol this phone with the one-time ``code`` from the QR link: make the key, register its
 * public half (signed with the new key: proof of possession), keep the account.
 */
export async function enrol(api, { code, name }) {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
  ]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const data = await signedRequest({
    device: "",
    key: pair.privateKey,
    method: "POST",
    path: `${api}/enroll`,
    body: () => ({ code, public_key: base64(spki), name }),
  });
  const account = {
    device: data.device,
    name: data.name,
    account: data.account,
    organisation: data.organisation,
    signKey: pair.privateKey,
    // The offline code's secret is kept only as a key WebCrypto will not give back.
    totpKey: await importTotpKey(data.totp_secret),
    vapidKey: data.vapid_public_key,
    created: Date.now(),
  };
  await saveAccount(account);
  return account;
}
