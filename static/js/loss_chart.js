// Refreshes the server-drawn loss curve (an SVG fragment) while the training job is queued or running.
(function () {
  const box = document.querySelector("[data-loss-chart]");
  if (!box) return;
  const badge = document.querySelector("[data-field=status]");
  const running = () => !badge || /status-(queued|running)/.test(badge.className);
  let lastRound = false;
  async function refresh() {
    try {
      const response = await fetch(box.dataset.src, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) box.innerHTML = await response.text();
    } catch (e) { /* try again on the next tick */ }
    if (running()) { setTimeout(refresh, 5000); return; }
    if (!lastRound) { lastRound = true; setTimeout(refresh, 1500); }
  }
  setTimeout(refresh, 5000);
})();
