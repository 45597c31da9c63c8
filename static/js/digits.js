/* Live pages: Socket.IO namespace /jobs, progress bars, ETA, editable fields, job actions. */
(function () {
  "use strict";
  const CSS = {Initialized: "secondary", Waiting: "warning", Running: "info", Done: "success", Aborted: "dark", Error: "danger"};
  const ACTIVE = ["Initialized", "Waiting", "Running"];
  const taskListeners = [];
  const jobListeners = [];

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function request(url, options) {
    options = Object.assign({method: "GET", headers: {}}, options || {});
    options.headers["X-CSRFToken"] = csrfToken();
    options.headers["Accept"] = "application/json";
    const response = await fetch(url, options);
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      const message = (data.error && data.error.message) || JSON.stringify(data.errors || data) || response.statusText;
      throw new Error(message);
    }
    return data;
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
    return `<span class="badge bg-${CSS[status] || "secondary"}">${status}</span>`;
  }

  function escapeHtml(text) {
    const div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function setProgress(bar, percent, status) {
    if (!bar) return;
    bar.style.width = `${percent}%`;
    bar.textContent = `${percent}%`;
    bar.parentElement.setAttribute("aria-valuenow", percent);
    const running = status === "Running";
    bar.classList.toggle("progress-bar-striped", running);
    bar.classList.toggle("progress-bar-animated", running);
  }

  function showTimestamps(root) {
    (root || document).querySelectorAll(".timestamp[data-ts]").forEach(el => {
      const ts = parseFloat(el.dataset.ts);
      if (!isNaN(ts)) el.textContent = new Date(ts * 1000).toLocaleString();
    });
  }

  function connect(room) {
    if (typeof io === "undefined") return null;
    const socket = io("/jobs", {transports: ["websocket", "polling"]});
    socket.on("connect", () => socket.emit("join", {room: room}));
    return socket;
  }

  function showError(message) {
    const box = document.getElementById("job-error") || document.getElementById("page-error");
    if (box) { box.hidden = false; box.textContent = message; } else { alert(message); }
  }

  /* ---------- home page ---------- */
  function homePage() {
    showTimestamps();
    refreshEtas();
    const socket = connect("job_management");
    if (socket) socket.on("job update", onHomeUpdate);
    setupHomeTables();
  }

  function onHomeUpdate(msg) {
    const rows = document.querySelectorAll(`tr[data-job-id="${msg.job_id}"]`);
    if (msg.update === "deleted") {
      rows.forEach(r => {
        const pane = r.closest(".tab-pane");
        const count = pane && document.getElementById(`count-${pane.dataset.category}`);
        if (count) count.textContent = String(Math.max(0, parseInt(count.textContent || "1", 10) - 1));
        r.remove();
      });
      return;
    }
    if (msg.update === "added") { addRunningRow(msg); return; }
    if (msg.update === "progress") {
      setProgress(document.getElementById(`progress-${msg.job_id}`), msg.percentage, "Running");
      const eta = document.getElementById(`eta-${msg.job_id}`);
      if (eta) {
        eta.dataset.eta = msg.eta == null ? "" : msg.eta;
        eta.textContent = msg.eta == null ? "" : `${formatDuration(msg.eta)} left`;
      }
      return;
    }
    if (msg.update === "status") {
      rows.forEach(r => { const cell = r.querySelector(".badge"); if (cell) cell.outerHTML = badge(msg.status); });
      if (!ACTIVE.includes(msg.status)) moveToDone(msg);
      else setProgress(document.getElementById(`progress-${msg.job_id}`), msg.progress, msg.status);
    }
    if (msg.update === "attribute" && msg.name) {
      rows.forEach(r => { const a = r.querySelector("a"); if (a) a.textContent = msg.name; });
    }
  }

  function addRunningRow(msg) {
    const table = document.querySelector(`#running-${msg.category} tbody`);
    if (!table || document.querySelector(`#running-${msg.category} tr[data-job-id="${msg.job_id}"]`)) return;
    const tr = document.createElement("tr");
    tr.dataset.jobId = msg.job_id;
    tr.innerHTML = `<td><a href="${msg.url}">${escapeHtml(msg.name)}</a></td><td>${escapeHtml(msg.owner)}</td>
      <td>${badge(msg.status)}</td><td><div class="progress" style="height:1.2rem"><div class="progress-bar"
      id="progress-${msg.job_id}" style="width:${msg.progress}%">${msg.progress}%</div></div></td>
      <td class="small text-muted eta task-eta" id="eta-${msg.job_id}"></td>`;
    table.appendChild(tr);
    const pane = table.closest(".tab-pane");
    pane.querySelector(".empty-state").hidden = true;
    const count = document.getElementById(`count-${msg.category}`);
    if (count) count.textContent = String(parseInt(count.textContent || "0", 10) + 1);
  }

  function moveToDone(msg) {
    const running = document.querySelector(`#running-${msg.category} tr[data-job-id="${msg.job_id}"]`);
    if (running) running.remove();
    let table = document.querySelector(`#done-${msg.category} tbody`);
    if (!table) { // first completed job of this kind: the page shows an empty state instead of a table
      window.location.reload();
      return;
    }
    if (table.querySelector(`tr[data-job-id="${msg.job_id}"]`)) return;
    const tr = document.createElement("tr");
    Object.assign(tr.dataset, {jobId: msg.job_id, group: msg.group || "", name: msg.name, owner: msg.owner || "",
                               status: msg.status, created: msg.created});
    tr.innerHTML = `<td class="text-muted">${escapeHtml(msg.group)}</td><td><a href="${msg.url}">${escapeHtml(msg.name)}</a></td>
      <td>${escapeHtml(msg.owner)}</td><td>${badge(msg.status)}</td><td><span class="timestamp" data-ts="${msg.created}"></span></td>
      <td class="text-end"><a class="btn btn-outline-secondary btn-sm" href="/clone/${msg.job_id}">Clone</a></td>`;
    table.prepend(tr);
    showTimestamps(tr);
    regroup();
  }

  let sortKey = "created", sortDir = -1;
  function setupHomeTables() {
    document.querySelectorAll(".jobs-done th[data-sort]").forEach(th => th.addEventListener("click", () => {
      sortDir = sortKey === th.dataset.sort ? -sortDir : 1;
      sortKey = th.dataset.sort;
      regroup();
    }));
    const filter = document.getElementById("job-filter");
    if (filter) filter.addEventListener("input", regroup);
    const group = document.getElementById("group-by-group");
    if (group) group.addEventListener("change", regroup);
    regroup();
  }

  function regroup() {
    const query = (document.getElementById("job-filter") || {value: ""}).value.toLowerCase();
    const byGroup = (document.getElementById("group-by-group") || {checked: false}).checked;
    document.querySelectorAll(".jobs-done").forEach(table => {
      table.querySelectorAll("th[data-sort]").forEach(th => {
        th.classList.toggle("sorted-asc", th.dataset.sort === sortKey && sortDir > 0);
        th.classList.toggle("sorted-desc", th.dataset.sort === sortKey && sortDir < 0);
      });
      const body = table.querySelector("tbody");
      body.querySelectorAll(".group-row").forEach(r => r.remove());
      const rows = Array.from(body.querySelectorAll("tr[data-job-id]"));
      const value = (r, k) => k === "created" ? parseFloat(r.dataset.created) : (r.dataset[k] || "").toLowerCase();
      rows.sort((a, b) => {
        if (byGroup && a.dataset.group !== b.dataset.group) return a.dataset.group < b.dataset.group ? -1 : 1;
        const va = value(a, sortKey), vb = value(b, sortKey);
        return va < vb ? -sortDir : va > vb ? sortDir : 0;
      });
      let lastGroup = null;
      rows.forEach(r => {
        const text = [r.dataset.name, r.dataset.owner, r.dataset.group, r.dataset.status].join(" ").toLowerCase();
        r.hidden = query !== "" && !text.includes(query);
        if (byGroup && !r.hidden && r.dataset.group && r.dataset.group !== lastGroup) {
          const head = document.createElement("tr");
          head.className = "group-row";
          head.innerHTML = `<td colspan="6">${escapeHtml(r.dataset.group)}</td>`;
          body.appendChild(head);
          lastGroup = r.dataset.group;
        }
        body.appendChild(r);
      });
    });
  }

  /* ---------- job page ---------- */
  function jobPage(jobId, category) {
    showTimestamps();
    refreshEtas();
    const runtime = document.getElementById("job-runtime");
    if (runtime) runtime.textContent = formatDuration(runtime.dataset.seconds);
    const socket = connect(jobId);
    if (socket) {
      socket.on("job update", msg => { if (msg.job_id === jobId) onJobUpdate(msg); });
      socket.on("task update", msg => { if (msg.job_id === jobId) onTaskUpdate(msg); });
    }
    setupEditable(jobId);
    setupActions(jobId, category);
  }

  function onJobUpdate(msg) {
    if (msg.update === "status") {
      const el = document.getElementById("job-status");
      if (el) { el.className = `badge bg-${CSS[msg.status]}`; el.textContent = msg.status; }
      document.getElementById("btn-abort").hidden = !ACTIVE.includes(msg.status);
      document.getElementById("btn-resume").hidden = !["Aborted", "Error"].includes(msg.status);
      const err = document.getElementById("job-error");
      if (err) { err.hidden = !msg.error; err.textContent = msg.error || ""; }
      const history = document.getElementById("status-history");
      if (history) {
        const tr = document.createElement("tr");
        tr.innerHTML = `<td>${badge(msg.status)}</td><td>${new Date().toLocaleString()}</td>`;
        history.appendChild(tr);
      }
    }
    if (msg.update === "deleted") goHome();
    jobListeners.forEach(fn => fn(msg));
  }

  function onTaskUpdate(msg) {
    const row = document.querySelector(`#task-table tr[data-task="${msg.task}"]`);
    if (msg.update === "progress" && row) {
      setProgress(document.getElementById(`task-progress-${msg.task}`), msg.percentage, "Running");
      const eta = row.querySelector(".task-eta");
      eta.dataset.eta = msg.eta == null ? "" : msg.eta;
      eta.textContent = msg.eta == null ? "" : `${formatDuration(msg.eta)} left`;
    } else if (msg.update === "status" && row) {
      row.querySelector(".task-status").innerHTML = badge(msg.status);
      setProgress(document.getElementById(`task-progress-${msg.task}`), msg.progress, msg.status);
      if (msg.status !== "Running") row.querySelector(".task-eta").textContent = "";
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

  let leaving = false;
  function goHome() {  // the DELETE reply and the "deleted" event both lead home: navigate once
    if (!leaving) { leaving = true; window.location.href = "/"; }
  }

  function refreshEtas() {
    document.querySelectorAll(".task-eta[data-eta]").forEach(el => {
      if (el.dataset.eta) el.textContent = `${formatDuration(el.dataset.eta)} left`;
    });
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
    request, formatDuration, escapeHtml, showTimestamps, homePage, jobPage, showError,
    onTaskUpdate: fn => taskListeners.push(fn),
    onJobUpdate: fn => jobListeners.push(fn),
  };
})();
