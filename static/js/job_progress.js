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
    set("data", job.data_text);
    set("attempts", job.attempts_text);
    const bar = root.querySelector("[data-field=bar]");
    if (bar) bar.style.width = `${Math.round((job.fraction ?? (job.finished ? 1 : 0)) * 100)}%`;
    root.querySelectorAll("[data-show-when]").forEach((el) => { el.hidden = !el.dataset.showWhen.split(",").includes(job.status); });
    return job.finished;
  }
  // Regions of the page built from the job's results (a run's counts and outputs) are re-read from the server
  // when the job's progress moves (at most every 4 s) and once more when it finishes.
  const regions = () => document.querySelectorAll("[data-refresh-region][id]");
  let seen = root.dataset.jobState || null; // what the server rendered the page from
  let lastRefresh = 0;
  async function refreshRegions() {
    lastRefresh = Date.now();
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    regions().forEach((region) => {
      const replacement = fresh.getElementById(region.id);
      if (replacement) region.innerHTML = replacement.innerHTML;
    });
  }
  async function maybeRefresh(job) {
    const state = `${job.status}:${job.progress_done}`;
    const changed = seen !== null && state !== seen;
    seen = state;
    if (!regions().length || !changed) return;
    if (job.finished || Date.now() - lastRefresh > 4000) {
      try { await refreshRegions(); } catch (e) { /* next change tries again */ }
    }
  }
  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const job = await response.json();
        const finished = render(job);
        await maybeRefresh(job);
        if (finished) { setTimeout(poll, 5000); return; }
      }
    } catch (e) { /* transient network error: try again */ }
    setTimeout(poll, 1000);
  }
  poll();
})();
