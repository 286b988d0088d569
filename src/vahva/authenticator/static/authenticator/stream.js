// The device's event stream (GET /api/device/v1/events, see vahva/authenticator/events.py):
// server-sent events read with fetch, since EventSource cannot send the signature headers.
// Each event lists the ids of the requests waiting for the device; the app fetches the
// details with /pending. Polling stays the floor: a stream only makes the app quicker.

import { signedFetch } from "./device.js";

/** The events of a text/event-stream response: {data (parsed JSON or null), retry}. */
export async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const lines = [];
      let retry = null;
      for (const line of block.split("\n")) {
        if (line.startsWith("data:")) lines.push(line.slice(5).replace(/^ /, ""));
        else if (line.startsWith("retry:")) retry = Number(line.slice(6)) || null;
      }
      let data = null;
      try {
        data = lines.length ? JSON.parse(lines.join("\n")) : null;
      } catch (error) {
        data = null;
      }
      if (data !== null || retry !== null) yield { data, retry };
      end = buffer.indexOf("\n\n");
    }
  }
}

/**
 * Follow ``account``'s stream until ``signal`` aborts or the server ends it; ``onEvent`` gets
 * each event's data. Returns the server's reconnection delay (ms), or null.
 */
export async function follow(account, path, signal, onEvent) {
  const response = await signedFetch({
    device: account.device,
    key: account.signKey,
    method: "GET",
    path,
    signal,
  });
  let retry = null;
  for await (const event of readEvents(response)) {
    if (event.retry !== null) retry = event.retry;
    if (event.data !== null) onEvent(event.data);
  }
  return retry;
}
