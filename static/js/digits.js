/* Live pages: Socket.IO namespace /jobs, progress bars, ETA, editable fields, job actions.
   The home page's tables live in home_page.js; the model page's charts in model_page.js. */
(function () {
  "use strict";
  const CSS = {Initialized: "secondary", Waiting: "warning", Running: "info", Done: "success", Aborted: "dark", Error: "danger"};
  const ACTIVE = ["Initialized", "Waiting", "Running"];
  const taskListeners = [];
  const jobListeners = [];
  const dataListeners = [];

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /* JSON request; a failed reply throws an Error with a readable message, its HTTP `status`, and for
     form validation replies ({"errors": {field: [messages]}}) `fields` = those errors, so forms can
     show each message next to its field. */
  async function request(url, options) {
    options = Object.assign({method: "GET", headers: {}}, options || {});
    options.headers["X-CSRFToken"] = csrfToken();
    options.headers["Accept"] = "application/json";
    const response = await fetch(url, options);
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      const error = new Error(replyMessage(data, response));
      error.status = response.status;
      if (data.errors && typeof data.errors === "object") error.fields = data.errors;
      throw error;
    }
    return data;
  }

  function replyMessage(data, response) {
    if (data.error && data.error.message) return data.error.message;
    if (data.errors && typeof data.errors === "object") {
      const lines = [];
      Object.entries(data.errors).forEach(([field, messages]) => {
        [].concat(messages).forEach(m => lines.push(`${field}: ${typeof m === "string" ? m : JSON.stringify(m)}`));
      });
      if (lines.length) return lines.join("\n");
    }
    return `${response.status} ${response.statusText || "request failed"}`.trim();
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || seconds === "" || isNaN(seconds)) return "";
    seconds = Math.max(0, Math.round(Number(seconds)));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (h) return `${h}h ${m}m`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }

  function badge(status) {
    return `<span class="badge bg-${CSS[status] || "secondary"}">${escapeHtml(status)}</span>`;
  }

  function escapeHtml(text) {
    const div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function setProgress(bar, percent, status) {
    if (!bar || percent == null) return;
    bar.style.width = `${percent}%`;
    bar.textContent = `${percent}%`;
    bar.parentElement.setAttribute("aria-valuenow", percent);
    const running = status === "Running";
    bar.classList.toggle("progress-bar-striped", running);
    bar.classList.toggle("progress-bar-animated", running);
  }

  function setEta(el, eta) {
    if (!el) return;
    el.dataset.eta = eta == null ? "" : eta;
    el.textContent = eta == null ? "" : `${formatDuration(eta)} left`;
  }

  function showTimestamps(root) {
    (root || document).querySelectorAll(".timestamp[data-ts]").forEach(el => {
      const ts = parseFloat(el.dataset.ts);
      if (!isNaN(ts)) el.textContent = new Date(ts * 1000).toLocaleString();
    });
  }

  function refreshEtas() {
    document.querySelectorAll(".task-eta[data-eta]").forEach(el => {
      if (el.dataset.eta) el.textContent = `${formatDuration(el.dataset.eta)} left`;
    });
  }

  /* Joins `room` on every (re)connect. Events sent before the join, or while the socket was down,
     never reach this page: `onJoined` runs once the server has put us in the room, to catch up. */
  function connect(room, onJoined) {
    if (typeof io === "undefined") return null;
    const socket = io("/jobs", {transports: ["websocket", "polling"]});
    socket.on("connect", () => socket.emit("join", {room: room}, () => { if (onJoined) onJoined(); }));
    return socket;
  }

  function showError(message) {
    const box = document.getElementById("job-error") || document.getElementById("page-error");
    if (box) { box.hidden = false; box.textContent = message; } else { alert(message); }
  }

  /* ---------- job page ---------- */
  function jobPage(jobId, category) {
    showTimestamps();
    refreshEtas();
    showRuntime();
    const socket = connect(jobId, () => resync(jobId, category));
    if (socket) {
      socket.on("job update", msg => { if (msg.job_id === jobId) onJobUpdate(msg); });
      socket.on("task update", msg => { if (msg.job_id === jobId) onTaskUpdate(msg); });
    }
    setupEditable(jobId);
    setupActions(jobId, category);
  }

  /* Seconds spent Running, summed over restarts, from the status history rows (as the server does). */
  function showRuntime() {
    const runtime = document.getElementById("job-runtime"), body = historyBody();
    if (!runtime || !body) return;
    let total = 0, started = null;
    Array.from(body.rows).forEach(row => {
      const ts = parseFloat((row.querySelector(".timestamp") || {dataset: {}}).dataset.ts);
      if (isNaN(ts)) return;
      if (row.dataset.status === "Running") started = ts;
      else if (started !== null) { total += ts - started; started = null; }
    });
    if (started !== null) total += Math.max(0, Date.now() / 1000 - started);
    runtime.textContent = formatDuration(total);
  }

  function shownStatus() {
    const el = document.getElementById("job-status");
    return el ? el.textContent.trim() : null;
  }

  function onJobUpdate(msg) {
    if (msg.update === "status") {
      const el = document.getElementById("job-status");
      if (el) { el.className = `badge bg-${CSS[msg.status]}`; el.textContent = msg.status; }
      document.getElementById("btn-abort").hidden = !ACTIVE.includes(msg.status);
      document.getElementById("btn-resume").hidden = !["Aborted", "Error"].includes(msg.status);
      const err = document.getElementById("job-error");
      if (err) { err.hidden = !msg.error; err.textContent = msg.error || ""; }
      addHistoryRow(msg.status, Date.now() / 1000);
    }
    if (msg.update === "deleted") goHome();
    jobListeners.forEach(fn => fn(msg));
  }

  function historyBody() {
    const table = document.getElementById("status-history");
    return table && (table.tBodies[0] || table.appendChild(document.createElement("tbody")));
  }

  function addHistoryRow(status, ts) {
    const body = historyBody();
    if (!body) return;
    const last = body.rows[body.rows.length - 1];
    if (last && last.dataset.status === status) return;  // a status is recorded once per change
    const tr = document.createElement("tr");
    tr.dataset.status = status;
    tr.innerHTML = `<td>${badge(status)}</td><td><span class="timestamp" data-ts="${ts}"></span></td>`;
    body.appendChild(tr);
    showTimestamps(tr);
    showRuntime();
  }

  function onTaskUpdate(msg) {
    const row = document.querySelector(`#task-table tr[data-task="${msg.task}"]`);
    if (msg.update === "progress" && row) {
      setProgress(document.getElementById(`task-progress-${msg.task}`), msg.percentage, "Running");
      setEta(row.querySelector(".task-eta"), msg.eta);
    } else if (msg.update === "status" && row) {
      row.querySelector(".task-status").innerHTML = badge(msg.status);
      row.dataset.status = msg.status;
      setProgress(document.getElementById(`task-progress-${msg.task}`), msg.progress, msg.status);
      if (msg.status !== "Running") setEta(row.querySelector(".task-eta"), null);
    } else if (msg.update === "log") {
      const log = document.getElementById("log-tail");
      if (log) {
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 5;
        log.textContent += msg.line + "\n";
        if (log.textContent.length > 100000) log.textContent = log.textContent.slice(-80000);
        if (atBottom) log.scrollTop = log.scrollHeight;
      }
    }
    taskListeners.forEach(fn => fn(msg));
  }

  /* Brings the page up to date with /<category>/<id>.json: changes are replayed as the events that
     were missed, so the page's listeners (reload a finished dataset, fill a model's results) react
     to them as if they had arrived live. */
  async function resync(jobId, category) {
    let data;
    try {
      data = await request(`/${category}/${jobId}.json`);
    } catch (e) {
      if (e.status === 404) goHome();   // deleted while we were away
      return;                           // unreachable: the next reconnect tries again
    }
    (data.tasks || []).forEach(task => {
      const row = document.querySelector(`#task-table tr[data-task="${task.name}"]`);
      if (!row) return;
      if (row.dataset.status !== task.status) {
        onTaskUpdate(Object.assign({}, task, {job_id: jobId, task: task.name, update: "status"}));
      }
      setProgress(document.getElementById(`task-progress-${task.name}`), task.progress, task.status);
      setEta(row.querySelector(".task-eta"), task.status === "Running" ? task.eta : null);
    });
    if (shownStatus() !== data.status) onJobUpdate(Object.assign({}, data, {job_id: jobId, update: "status"}));
    const body = historyBody();
    if (body && Array.isArray(data.status_history)) {
      body.innerHTML = "";
      data.status_history.forEach(([status, ts]) => addHistoryRow(status, ts));
    }
    dataListeners.forEach(fn => fn(data));
  }

  let leaving = false;
  function goHome() {  // the DELETE reply and the "deleted" event both lead home: navigate once
    if (!leaving) { leaving = true; window.location.href = "/"; }
  }

  function setupEditable(jobId) {
    document.querySelectorAll("#job-page .editable").forEach(el => el.addEventListener("click", async () => {
      const field = el.dataset.field;
      const current = field === "job_notes" && el.textContent === "Add notes…" ? "" : el.textContent;
      const value = window.prompt(field === "job_name" ? "Job name" : "Notes", current);
      if (value === null) return;
      const body = new FormData();
      body.append(field, value);
      try {
        const data = await request(`/jobs/${jobId}.json`, {method: "PUT", body: body});
        el.textContent = field === "job_name" ? data.name : (value || "Add notes…");
      } catch (e) { showError(e.message); }
    }));
  }

  function setupActions(jobId, category) {
    const on = (id, fn) => { const b = document.getElementById(id); if (b) b.addEventListener("click", fn); };
    on("btn-abort", async () => {
      if (!confirm("Abort this job?")) return;
      try { await request(`/jobs/${jobId}/abort`, {method: "POST"}); } catch (e) { showError(e.message); }
    });
    on("btn-resume", async () => {
      try { await request(`/jobs/${jobId}/resume`, {method: "POST"}); window.location.reload(); }
      catch (e) { showError(e.message); }
    });
    on("btn-delete", async () => {
      if (!confirm("Delete this job and all its files? This cannot be undone.")) return;
      try { await request(`/jobs/${jobId}.json`, {method: "DELETE"}); goHome(); }
      catch (e) { showError(e.message); }
    });
  }

  window.DIGITS = {
    request, formatDuration, escapeHtml, showTimestamps, refreshEtas, jobPage, showError,
    badge, setProgress, setEta, connect, ACTIVE,
    onTaskUpdate: fn => taskListeners.push(fn),
    onJobUpdate: fn => jobListeners.push(fn),
    onJobData: fn => dataListeners.push(fn),   // the job's JSON, each time the page catches up
  };
})();
