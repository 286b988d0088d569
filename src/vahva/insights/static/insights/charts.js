// The adoption page's charts, drawn by Chart.js (vendored, no CDN) from the figures that the
// page's tables also show. Without JavaScript, or without Chart.js, the tables are the page.
// The data comes from a <script type="application/json"> block, never from inline code (CSP).
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("adoption-data");
  if (!source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const style = getComputedStyle(document.documentElement);
  const colour = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const language = document.documentElement.lang || undefined;
  // The days are calendar dates ("2026-03-02"): read and shown in UTC so none shifts a day.
  const dayName = new Intl.DateTimeFormat(language, { day: "numeric", month: "numeric", timeZone: "UTC" });
  const wholeNumbers = { beginAtZero: true, ticks: { precision: 0 } };

  const draw = (id, config) => {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    // Shown before drawing: Chart.js sizes the canvas from its visible container.
    canvas.closest("[data-chart]").hidden = false;
    new window.Chart(canvas, {
      ...config,
      options: { responsive: true, maintainAspectRatio: false, animation: still ? false : {}, ...config.options },
    });
  };

  draw("methods-chart", {
    type: "bar",
    data: {
      labels: data.methods.labels,
      datasets: [{ label: data.methods.title, data: data.methods.people, backgroundColor: colour("--brand", "#0b5c8a") }],
    },
    options: { plugins: { legend: { display: false } }, scales: { y: wholeNumbers } },
  });

  draw("signins-chart", {
    type: "bar",
    data: {
      labels: data.days.labels.map((day) => dayName.format(new Date(day + "T00:00:00Z"))),
      datasets: [
        { label: data.days.with_mfa_title, data: data.days.with_mfa, backgroundColor: colour("--brand", "#0b5c8a") },
        { label: data.days.password_only_title, data: data.days.password_only, backgroundColor: colour("--muted", "#4a525c") },
      ],
    },
    options: { scales: { x: { stacked: true }, y: { ...wholeNumbers, stacked: true } } },
  });
});
