/* Home page: the jobs tables of each tab kept live (rows move from "In progress" to "Completed"
   without a reload), the filter and grouping, and the tab in the address bar (#models). */
(function () {
  "use strict";
  const {badge, setProgress, setEta, escapeHtml, showTimestamps, refreshEtas, connect, ACTIVE} = DIGITS;
  const CATEGORIES = ["datasets", "models", "pretrained_models"];

  function homePage() {
    showTimestamps();
    refreshEtas();
    keepTabInAddress();
    const socket = connect("job_management", resync);
    if (socket) socket.on("job update", onHomeUpdate);
    setupTables();
  }

  /* The open tab is the page's fragment: a reload, a redirect to /#models, or Back lands on it. */
  function keepTabInAddress() {
    const show = () => {
      const button = document.querySelector(`button[data-tab="${location.hash.slice(1)}"]`);
      if (button && window.bootstrap) bootstrap.Tab.getOrCreateInstance(button).show();
    };
    document.querySelectorAll("button[data-tab]").forEach(button => button.addEventListener("shown.bs.tab", () => {
      history.replaceState(null, "", `#${button.dataset.tab}`);
    }));
    window.addEventListener("hashchange", show);
    show();
  }

  const rowsOf = jobId => document.querySelectorAll(`tr[data-job-id="${jobId}"]`);

  function onHomeUpdate(msg) {
    if (msg.update === "deleted") {
      rowsOf(msg.job_id).forEach(r => { changeCount(r.closest(".tab-pane"), -1); r.remove(); });
      refreshTables();
    } else if (msg.update === "added") {
      if (ACTIVE.includes(msg.status)) addRunningRow(msg); else moveToDone(msg);
    } else if (msg.update === "progress") {
      setProgress(document.getElementById(`progress-${msg.job_id}`), msg.percentage, "Running");
      setEta(document.getElementById(`eta-${msg.job_id}`), msg.eta);
    } else if (msg.update === "status") {
      showStatus(msg);
    } else if (msg.update === "attribute" && (msg.name || msg.group !== undefined)) {
      rowsOf(msg.job_id).forEach(r => {
        if (msg.name) {
          r.dataset.name = msg.name;
          const a = r.querySelector("a");
          if (a) a.textContent = msg.name;
        }
        if (msg.group !== undefined) {   // regrouped from the selection bar (POST /group)
          r.dataset.group = msg.group || "";
          const cell = r.querySelector(".job-group");
          if (cell) cell.textContent = msg.group || "";
        }
      });
      refreshTables();
    }
  }

  function showStatus(msg) {
    if (!ACTIVE.includes(msg.status)) { moveToDone(msg); return; }
    if (!document.querySelector(`#running-${msg.category} tr[data-job-id="${msg.job_id}"]`)) {
      // resumed from the Completed table
      document.querySelectorAll(`#done-${msg.category} tr[data-job-id="${msg.job_id}"]`).forEach(r => r.remove());
      addRunningRow(msg, false);
      return;
    }
    rowsOf(msg.job_id).forEach(r => {
      r.dataset.status = msg.status;
      const cell = r.querySelector(".badge");
      if (cell) cell.outerHTML = badge(msg.status);
    });
    setProgress(document.getElementById(`progress-${msg.job_id}`), msg.progress, msg.status);
    refreshTables();
  }

  function changeCount(pane, delta) {
    const count = pane && document.getElementById(`count-${pane.dataset.category}`);
    if (count) count.textContent = String(Math.max(0, parseInt(count.textContent || "0", 10) + delta));
  }

  function fillRow(tr, msg, cloneable) {
    Object.assign(tr.dataset, {jobId: msg.job_id, group: msg.group || "", name: msg.name, owner: msg.owner || "",
                               status: msg.status, created: msg.created, cloneable: cloneable ? "1" : "0"});
  }

  // The selection checkbox (home_selection.js); a row rebuilt live stays selected.
  const selectCell = msg => `<td><input class="form-check-input job-select" type="checkbox" value="${escapeHtml(msg.job_id)}"
    aria-label="Select ${escapeHtml(msg.name)}"${DIGITS.isSelected && DIGITS.isSelected(msg.job_id) ? " checked" : ""}></td>`;

  // Kinds that have a new-job form can be cloned; pretrained models are uploaded or made from a model.
  const canClone = msg => !["pretrained_models", "jobs"].includes(msg.category);

  function addRunningRow(msg, isNew = true) {
    const body = document.querySelector(`#running-${msg.category} tbody`);
    if (!body || body.querySelector(`tr[data-job-id="${msg.job_id}"]`)) return;
    const tr = document.createElement("tr");
    fillRow(tr, msg, canClone(msg));
    tr.innerHTML = `${selectCell(msg)}<td><a href="${escapeHtml(msg.url)}">${escapeHtml(msg.name)}</a></td><td>${escapeHtml(msg.owner)}</td>
      <td>${badge(msg.status)}</td><td><div class="progress" style="height:1.2rem"><div class="progress-bar"
      id="progress-${msg.job_id}" style="width:${msg.progress}%">${msg.progress}%</div></div></td>
      <td class="small text-muted eta task-eta" id="eta-${msg.job_id}"></td>`;
    body.appendChild(tr);
    if (isNew) changeCount(body.closest(".tab-pane"), 1);
    refreshTables();
  }

  function moveToDone(msg) {
    const running = document.querySelector(`#running-${msg.category} tr[data-job-id="${msg.job_id}"]`);
    const body = document.querySelector(`#done-${msg.category} tbody`);
    if (!body) return;
    const cloneable = running ? running.dataset.cloneable === "1" : canClone(msg);
    if (running) running.remove();
    else if (!body.querySelector(`tr[data-job-id="${msg.job_id}"]`)) changeCount(body.closest(".tab-pane"), 1);
    let tr = body.querySelector(`tr[data-job-id="${msg.job_id}"]`);
    if (!tr) { tr = document.createElement("tr"); body.prepend(tr); }
    fillRow(tr, msg, cloneable);
    tr.innerHTML = `${selectCell(msg)}<td class="text-muted job-group">${escapeHtml(msg.group)}</td><td><a href="${escapeHtml(msg.url)}">${escapeHtml(msg.name)}</a></td>
      <td>${escapeHtml(msg.owner)}</td><td>${badge(msg.status)}</td><td><span class="timestamp" data-ts="${msg.created}"></span></td>
      <td class="text-end">${cloneable ? `<a class="btn btn-outline-secondary btn-sm" href="/clone/${msg.job_id}">Clone</a>` : ""}</td>`;
    showTimestamps(tr);
    refreshTables();
  }

  /* Catches up with /index.json after (re)joining: jobs added, finished or deleted meanwhile. */
  async function resync() {
    let data;
    try { data = await DIGITS.request("/index.json"); } catch (e) { return; }
    const seen = new Set();
    CATEGORIES.forEach(category => (data[category] || []).forEach(job => {
      seen.add(job.id);
      const msg = Object.assign({}, job, {job_id: job.id});
      const row = document.querySelector(`tr[data-job-id="${job.id}"]`);
      if (!row) onHomeUpdate(Object.assign(msg, {update: "added"}));
      else if (row.dataset.status !== job.status) showStatus(msg);
    }));
    document.querySelectorAll(".jobs-table tr[data-job-id]").forEach(r => {
      if (!seen.has(r.dataset.jobId)) onHomeUpdate({update: "deleted", job_id: r.dataset.jobId});
    });
    CATEGORIES.forEach(category => {
      const count = document.getElementById(`count-${category}`);
      if (count) count.textContent = String((data[category] || []).length);
    });
  }

  let sortKey = "created", sortDir = -1;
  function setupTables() {
    document.querySelectorAll(".jobs-done th[data-sort]").forEach(th => th.addEventListener("click", () => {
      sortDir = sortKey === th.dataset.sort ? -sortDir : 1;
      sortKey = th.dataset.sort;
      refreshTables();
    }));
    const filter = document.getElementById("job-filter");
    if (filter) filter.addEventListener("input", refreshTables);
    const group = document.getElementById("group-by-group");
    if (group) group.addEventListener("change", refreshTables);
    refreshTables();
  }

  const rowText = r => [r.dataset.name, r.dataset.owner, r.dataset.group, r.dataset.status].join(" ").toLowerCase();

  /* Sorts and groups the Completed tables, applies the filter to every table, and says when a table
     is empty or nothing matches the filter. */
  function refreshTables() {
    const query = (document.getElementById("job-filter") || {value: ""}).value.trim().toLowerCase();
    document.querySelectorAll(".jobs-done").forEach(sortAndGroup);
    document.querySelectorAll(".jobs-table").forEach(table => {
      const rows = Array.from(table.querySelectorAll("tbody tr[data-job-id]"));
      rows.forEach(r => { r.hidden = query !== "" && !rowText(r).includes(query); });
      table.querySelectorAll(".group-row").forEach(g => { g.hidden = query !== "" && !groupHasVisibleRows(g); });
      const visible = rows.filter(r => !r.hidden).length;
      const section = table.closest(".jobs-section");
      table.hidden = visible === 0;
      section.querySelector(".empty-state").hidden = rows.length > 0;
      const noMatch = section.querySelector(".no-match");
      noMatch.hidden = rows.length === 0 || visible > 0;
      noMatch.querySelector(".filter-text").textContent = query;
    });
  }

  function groupHasVisibleRows(groupRow) {
    for (let r = groupRow.nextElementSibling; r && !r.classList.contains("group-row"); r = r.nextElementSibling) {
      if (!r.hidden) return true;
    }
    return false;
  }

  function sortAndGroup(table) {
    const byGroup = (document.getElementById("group-by-group") || {checked: false}).checked;
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
      if (byGroup && r.dataset.group && r.dataset.group !== lastGroup) {
        const head = document.createElement("tr");
        head.className = "group-row";
        head.innerHTML = `<td colspan="7">${escapeHtml(r.dataset.group)}</td>`;
        body.appendChild(head);
      }
      lastGroup = r.dataset.group;
      body.appendChild(r);
    });
  }

  DIGITS.homePage = homePage;
})();
