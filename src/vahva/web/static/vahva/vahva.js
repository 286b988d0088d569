// Progressive enhancement only: every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    const button = select.form.querySelector("button[type=submit]");
    if (button) button.hidden = true;
    select.addEventListener("change", () => select.form.submit());
  }
});

// Waiting pages (a sign-in push to approve, the vahva app's test request): poll the JSON status
// at data-poll, show the child whose data-state matches the answer, copy answer fields into
// [data-fill] (as text) and input[data-fill-value], and submit the form[data-poll-submit] when
// its state arrives. Without this script the page still works: its button posts the form.
document.addEventListener("DOMContentLoaded", () => {
  const FINAL = ["denied", "expired"];
  for (const box of document.querySelectorAll("[data-poll]")) {
    const url = box.dataset.poll;
    const form = box.querySelector("form[data-poll-submit]");
    for (const element of box.querySelectorAll("[data-poll-hide]")) element.hidden = true;
    let delay = 2000;
    const show = (state) => {
      for (const part of box.querySelectorAll("[data-state]")) {
        part.hidden = part.dataset.state !== state;
      }
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
      if (data.state === "done" || data.state === "gone") {
        window.location.reload(); // the page itself says where to go next
        return;
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
        form.submit();
        return;
      }
      if (!FINAL.includes(data.state)) setTimeout(tick, delay);
    };
    setTimeout(tick, delay);
  }
});
