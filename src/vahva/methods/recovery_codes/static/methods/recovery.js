// Recovery codes, shown once: "Copy" and "Print" need a script (the download link does not).
// Without this file the buttons stay hidden. No inline script: the CSP has no 'unsafe-inline'.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(source.textContent);
      const done = document.getElementById("copied");
      if (done) done.hidden = false;
    });
  }
  for (const button of document.querySelectorAll("button[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
});
