/* Home page: tick jobs in any table, then Group / Abort / Delete them at once with DIGITS' bulk routes
   (POST /group, POST /abort_jobs, DELETE /jobs with one job_ids[] field per job). The server answers
   which jobs were done and why the others were not; rows change through the live updates. */
(function () {
  "use strict";
  const selected = new Set();
  const $ = id => document.getElementById(id);

  function showSelection() {
    document.querySelectorAll(".job-select").forEach(box => { box.checked = selected.has(box.value); });
    $("selection-count").textContent = String(selected.size);
    $("selection-bar").hidden = selected.size === 0;
  }

  function forgetMissing() {   // a deleted row leaves the selection too
    const present = new Set(Array.from(document.querySelectorAll(".job-select")).map(b => b.value));
    Array.from(selected).forEach(id => { if (!present.has(id)) selected.delete(id); });
    showSelection();
  }

  function showResult(message, ok) {
    const box = $("selection-result");
    box.textContent = message;
    box.classList.toggle("alert-warning", !ok);
    box.classList.toggle("alert-success", ok);
    box.hidden = !message;
  }

  async function act(url, method, extra) {
    const body = new FormData();
    selected.forEach(id => body.append("job_ids[]", id));
    Object.entries(extra || {}).forEach(([k, v]) => body.append(k, v));
    showResult("", true);   // the last action's answer is not this one's
    try {
      const data = await DIGITS.request(url, {method, body});
      showResult(data.message, true);
      selected.clear();
    } catch (e) {
      showResult(e.message, false);   // lists each job not done and why; those done are done
      // An answered action is over: ticks left over (perhaps on another tab) must not ride into the next one.
      if (e.status) selected.clear();
    }
    forgetMissing();
  }

  function homeSelection() {
    document.addEventListener("change", ev => {
      const box = ev.target;
      if (box.classList.contains("job-select")) {
        if (box.checked) selected.add(box.value); else selected.delete(box.value);
      } else if (box.classList.contains("select-all")) {
        box.closest("table").querySelectorAll("tbody tr:not([hidden]) .job-select").forEach(b => {
          if (box.checked) selected.add(b.value); else selected.delete(b.value);
        });
      } else {
        return;
      }
      showSelection();
    });
    $("btn-clear-selection").addEventListener("click", () => { selected.clear(); showSelection(); });
    $("btn-group-selected").addEventListener("click", () => {
      const name = window.prompt(`Group name for ${selected.size} job(s) (empty: no group)`, "");
      if (name !== null) act("/group", "POST", {group_name: name});
    });
    $("btn-abort-selected").addEventListener("click", () => {
      if (window.confirm(`Abort ${selected.size} job(s)?`)) act("/abort_jobs", "POST");
    });
    $("btn-delete-selected").addEventListener("click", () => {
      if (window.confirm(`Delete ${selected.size} job(s)? This cannot be undone.`)) act("/jobs", "DELETE");
    });
    // Rows come and go with live updates: keep the boxes and the count true.
    new MutationObserver(forgetMissing).observe(document.querySelector(".tab-content"), {childList: true, subtree: true});
  }

  DIGITS.isSelected = id => selected.has(id);
  DIGITS.homeSelection = homeSelection;
})();
