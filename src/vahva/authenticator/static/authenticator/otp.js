// The app's offline code: TOTP (RFC 6238) over HOTP (RFC 4226) with WebCrypto's HMAC.
// The secret is imported once as a non-extractable key; after that no script can read it.

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 §6 base32 to bytes (padding, spaces and case ignored). */
export function base32Decode(text) {
  const clean = String(text).toUpperCase().replace(/[\s=]/g, "");
  const bytes = [];
  let bits = 0;
  let value = 0;
  for (const char of clean) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error("not base32");
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >>> bits) & 0xff);
    }
  }
  return new Uint8Array(bytes);
}

/** The TOTP secret (base32) as a non-extractable HMAC key. */
export function importTotpKey(secret, hash = "SHA-1") {
  return crypto.subtle.importKey("raw", base32Decode(secret), { name: "HMAC", hash }, false, [
    "sign",
  ]);
}

/** RFC 4226 §5.3: HMAC of the 8-byte counter, dynamic truncation, modulo 10^digits. */
export async function hotp(key, counter, digits = 6) {
  const message = new DataView(new ArrayBuffer(8));
  message.setUint32(0, Math.floor(counter / 2 ** 32));
  message.setUint32(4, counter >>> 0);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, message.buffer));
  const offset = mac[mac.length - 1] & 0x0f;
  const binary =
    ((mac[offset] & 0x7f) << 24) |
    (mac[offset + 1] << 16) |
    (mac[offset + 2] << 8) |
    mac[offset + 3];
  return String(binary % 10 ** digits).padStart(digits, "0");
}

/** RFC 6238 §4: the code at Unix time ``seconds`` (30-second steps from 0 by default). */
export function totp(key, seconds, { step = 30, digits = 6 } = {}) {
  return hotp(key, Math.floor(seconds / step), digits);
}
