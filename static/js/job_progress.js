// Polls a job's status endpoint and updates the page in place, so staff watch progress without reloading.
(function () {
  const root = document.querySelector("[data-job-status-url]");
  if (!root) return;
  const url = root.dataset.jobStatusUrl;
  const set = (name, value) => root.querySelectorAll(`[data-field="${name}"]`).forEach((el) => { el.textContent = value ?? ""; });
  function render(job) {
    set("status", job.status_label);
    const badge = root.querySelector("[data-field=status]");
    if (badge) badge.className = `status status-${job.status}`;
    set("message", job.message);
    set("done", job.progress_done);
    set("total", job.progress_total ?? "?");
    set("error", job.error);
    set("log", job.log_tail);
    set("heartbeat", job.heartbeat_at);
    set("data", Object.entries(job.data || {}).map(([k, v]) => `${k}: ${typeof v === "number" ? Math.round(v * 1000) / 1000 : v}`).join("  ·  "));
    const bar = root.querySelector("[data-field=bar]");
    if (bar) bar.style.width = `${Math.round((job.fraction ?? (job.finished ? 1 : 0)) * 100)}%`;
    root.querySelectorAll("[data-show-when]").forEach((el) => { el.hidden = !el.dataset.showWhen.split(",").includes(job.status); });
    return job.finished;
  }
  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok && render(await response.json())) { setTimeout(poll, 5000); return; }
    } catch (e) { /* transient network error: try again */ }
    setTimeout(poll, 1000);
  }
  poll();
})();
