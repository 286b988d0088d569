// Progressive enhancement only: every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    const button = select.form.querySelector("button[type=submit]");
    if (button) button.hidden = true;
    select.addEventListener("change", () => select.form.submit());
  }
});

// Waiting pages (a sign-in push to approve, the vahva app's test request): listen to the
// server-sent events at data-events, or poll the JSON status at data-poll (when there is no
// data-events, or the stream fails), show the child whose data-state matches the answer, copy
// answer fields into [data-fill] (as text) and input[data-fill-value], and submit the
// form[data-poll-submit] when its state arrives. Without this script the page still works: its
// button posts the form.
document.addEventListener("DOMContentLoaded", () => {
  const FINAL = ["denied", "reported", "expired"];
  for (const box of document.querySelectorAll("[data-poll]")) {
    const url = box.dataset.poll;
    const form = box.querySelector("form[data-poll-submit]");
    for (const element of box.querySelectorAll("[data-poll-hide]")) element.hidden = true;
    let delay = 2000;
    let finished = false;
    const show = (state) => {
      for (const part of box.querySelectorAll("[data-state]")) {
        part.hidden = part.dataset.state !== state;
      }
      // Parts of the page that no longer apply in a final state (a link that the state's
      // own part replaces).
      for (const part of document.querySelectorAll("[data-poll-away]")) {
        part.hidden = part.dataset.pollAway === state;
      }
    };
    // Returns true when the page is done waiting.
    const handle = (data) => {
      if (finished) return true;
      if (data.state === "done" || data.state === "gone") {
        finished = true;
        window.location.reload(); // the page itself says where to go next
        return true;
      }
      for (const element of box.querySelectorAll("[data-fill]")) {
        const value = data[element.dataset.fill];
        if (value !== undefined && value !== null) element.textContent = String(value);
      }
      for (const input of box.querySelectorAll("input[data-fill-value]")) {
        const value = data[input.dataset.fillValue];
        if (value !== undefined && value !== null) input.value = String(value);
      }
      show(data.state);
      if (form && data.state === form.dataset.pollSubmit) {
        finished = true;
        form.submit();
        return true;
      }
      if (FINAL.includes(data.state)) finished = true;
      return finished;
    };
    const tick = async () => {
      let data;
      try {
        const response = await fetch(url, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
          cache: "no-store",
        });
        data = await response.json();
        delay = 2000;
      } catch (error) {
        delay = Math.min(delay * 2, 30000); // offline or restarting: back off, keep trying
        setTimeout(tick, delay);
        return;
      }
      if (!handle(data)) setTimeout(tick, delay);
    };
    if (box.dataset.events && window.EventSource) {
      const source = new EventSource(box.dataset.events);
      source.addEventListener("message", (event) => {
        if (handle(JSON.parse(event.data))) source.close();
      });
      source.addEventListener("error", () => {
        // EventSource reconnects by itself; only a stream it gave up on falls back to polling.
        if (source.readyState === EventSource.CLOSED && !finished) setTimeout(tick, delay);
      });
    } else {
      setTimeout(tick, delay);
    }
  }
});
