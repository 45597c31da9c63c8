/* New-model form: show the fields of the chosen LR policy / solver / network method, previews. */
(function () {
  "use strict";
  const form = document.getElementById("model-form");
  if (!form) return;
  const $ = id => document.getElementById(id);

  function toggle(selector, attr, value) {
    document.querySelectorAll(selector).forEach(el => { el.hidden = el.dataset[attr] !== value; });
  }
  const policy = $("lr_policy"), method = $("method"), solver = $("solver_type"), hsv = $("aug_hsv_use");
  const refresh = () => {
    toggle(".lr-params", "policy", policy.value);
    toggle(".method-pane", "method", method.value);
    toggle(".solver-params", "solver", solver.value);
    if (hsv && $("hsv-params")) $("hsv-params").hidden = !hsv.checked;
  };
  [policy, method, solver, hsv].forEach(el => { if (el) el.addEventListener("change", refresh); });
  refresh();

  // A generic model's standard networks are its task type's (detection, segmentation): the list shows
  // those, a task type that has some starts from one, and a network of one framework selects it.
  const taskType = $("task_type"), standard = $("standard_networks");
  const tasksEl = $("standard-network-tasks");
  const networkTasks = tasksEl ? JSON.parse(tasksEl.textContent || "{}") : {};
  const pickFramework = () => {
    const known = networkTasks[standard.value];
    if (known && known.framework) $("framework").value = known.framework;
  };
  const showTaskNetworks = () => {
    const options = Array.from(standard.options);
    options.forEach(o => { o.hidden = o.disabled = (networkTasks[o.value] || {}).task_type !== taskType.value; });
    document.querySelectorAll(".task-pane").forEach(el => {
      el.hidden = !el.dataset.taskTypes.split(" ").includes(taskType.value);
    });
    const first = options.find(o => !o.hidden);
    if (!first) return false;
    if (standard.selectedOptions[0] && standard.selectedOptions[0].hidden) standard.value = first.value;
    return true;
  };
  if (taskType && tasksEl) {
    showTaskNetworks();
    taskType.addEventListener("change", () => {
      if (!showTaskNetworks()) return;
      method.value = "standard";
      pickFramework();
      refresh();
    });
    standard.addEventListener("change", pickFramework);
  }

  document.querySelectorAll(".pick-previous").forEach(a => a.addEventListener("click", e => {
    e.preventDefault();
    $("previous_networks").value = a.dataset.id;
  }));

  /* ---------- messages of a preview next to the fields they are about ---------- */
  const lrError = $("lr-preview-error");

  function clearFieldErrors() {
    form.querySelectorAll(".js-feedback").forEach(el => el.remove());
    form.querySelectorAll(".js-invalid").forEach(el => el.classList.remove("is-invalid", "js-invalid"));
    lrError.hidden = true;
    lrError.textContent = "";
  }

  // Returns the messages that have no visible field to sit next to.
  function markFields(fields) {
    const unplaced = [];
    Object.entries(fields).forEach(([name, messages]) => {
      const input = form.elements[name];
      const box = $(`field-${name}`);
      const text = [].concat(messages).join(" ");
      if (!input || !box || box.closest("[hidden]")) {
        const label = input && input.labels && input.labels.length ? input.labels[0].textContent : name;
        unplaced.push(`${label}: ${text}`);
        return;
      }
      input.classList.add("is-invalid", "js-invalid");
      const feedback = document.createElement("div");
      feedback.className = "invalid-feedback d-block js-feedback";
      feedback.textContent = text;
      box.appendChild(feedback);
    });
    return unplaced;
  }

  function showLrError(err) {
    const unplaced = err.fields ? markFields(err.fields) : [err.message];
    if (!unplaced.length) unplaced.push("Fix the fields marked in red to preview the learning rate.");
    lrError.textContent = unplaced.join(" · ");
    lrError.hidden = false;
  }

  form.addEventListener("input", ev => {  // a corrected field loses its mark
    if (!ev.target.classList.contains("js-invalid")) return;
    ev.target.classList.remove("is-invalid", "js-invalid");
    const box = $(`field-${ev.target.name}`);
    if (box) box.querySelectorAll(".js-feedback").forEach(el => el.remove());
  });

  let lrChart = null;
  $("btn-visualize-lr").addEventListener("click", async () => {
    clearFieldErrors();
    try {
      const data = await DIGITS.request("/models/visualize-lr.json", {method: "POST", body: new FormData(form)});
      const points = data.points.percent.map((p, i) => ({x: p, y: data.points.learning_rate[i]}));
      if (lrChart) lrChart.destroy();
      lrChart = new Chart($("lr-preview"), {type: "line", data: {datasets: [{label: "learning rate", data: points, pointRadius: 0}]},
        options: {animation: false, maintainAspectRatio: false, scales: {x: {type: "linear", title: {display: true, text: "% of training"}}}}});
    } catch (err) {
      if (lrChart) { lrChart.destroy(); lrChart = null; }   // an old curve would pass for the new settings
      showLrError(err);
    }
  });

  $("btn-visualize-network").addEventListener("click", async () => {
    const box = $("network-graph");
    box.hidden = false;
    box.textContent = "Building…";
    try {
      const data = await DIGITS.request("/models/visualize-network.json", {method: "POST", body: new FormData(form)});
      box.innerHTML = data.svg;
    } catch (e) { box.textContent = e.message; }
  });

  function showNetworkMessage(message) {
    const box = $("network-graph");
    box.hidden = false;
    box.textContent = message;
  }

  // DIGITS' "Customize" of a previous network: its text, and its snapshot's weights as the starting point.
  const customizePrevious = $("btn-customize-previous");
  if (customizePrevious) customizePrevious.addEventListener("click", async () => {
    const id = $("previous_networks").value.trim(), epoch = $("previous_network_snapshot").value.trim();
    try {
      const data = await DIGITS.request(`/models/customize.json?network=${encodeURIComponent(id)}` +
                                        `&snapshot_epoch=${encodeURIComponent(epoch || "latest")}`);
      $("custom_network").value = data.network;
      $("custom_network_snapshot").value = data.snapshot || "";
      if (data.framework) $("framework").value = data.framework;
      method.value = "custom";
      refresh();
    } catch (e) {
      showNetworkMessage(e.message);
    }
  });

  // DIGITS' dataset summary under the dataset choice.
  const dataset = $("dataset"), summary = $("dataset-summary");
  const showSummary = async () => {
    if (!dataset || !summary || !dataset.value) return;
    try {
      const response = await fetch(`/datasets/summary?job_id=${encodeURIComponent(dataset.value)}`, {headers: {Accept: "text/html"}});
      summary.innerHTML = response.ok ? await response.text() : "";
    } catch (e) { summary.textContent = ""; }
  };
  if (dataset) { dataset.addEventListener("change", showSummary); showSummary(); }

  $("btn-customize").addEventListener("click", async () => {
    // Loads the standard network's text into the custom editor, DIGITS' "Customize".
    const name = $("standard_networks").value, framework = $("framework").value;
    try {
      const data = await DIGITS.request(`/models/networks/${encodeURIComponent(name)}.json?framework=${framework}`);
      $("custom_network").value = data.text;
      method.value = "custom";
      refresh();
    } catch (e) {
      showNetworkMessage(e.message);
    }
  });
})();
