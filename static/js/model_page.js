/* Model page: loss/accuracy and learning-rate charts fed by Socket.IO combined_graph / lr_graph updates;
   GPU panel; snapshots added to the "Test the model" card as they are saved; results filled in when
   training ends. Nothing here reloads the page, so no chart point received meanwhile is lost. */
(function () {
  "use strict";
  const dataEl = document.getElementById("metrics-data");
  if (!dataEl) return;
  const jobId = document.getElementById("job-page").dataset.jobId;
  const metrics = JSON.parse(dataEl.textContent || "{}");
  // The right-hand axis charts the task type's own metrics (digits/model/tasks.py).
  const TASK_AXES = {
    classification: {title: "accuracy (%)", min: 0, max: 100, series: {
      "val/accuracy": {label: "accuracy (val) %", color: "#ff7f0e"},
      "val/accuracy_top5": {label: "top-5 accuracy (val) %", color: "#d62728"}}},
    regression: {title: "error", series: {
      "val/rmse": {label: "RMSE (val)", color: "#ff7f0e"}, "val/mae": {label: "MAE (val)", color: "#d62728"}}},
    multilabel: {title: "%", min: 0, max: 100, series: {
      "val/precision": {label: "precision (val) %", color: "#ff7f0e"}, "val/recall": {label: "recall (val) %", color: "#d62728"},
      "val/f1": {label: "F1 (val) %", color: "#8c564b"}}},
    detection: {title: "%", min: 0, max: 100, series: {
      "val/mAP": {label: "mAP@0.5 (val) %", color: "#ff7f0e"}, "val/precision": {label: "precision (val) %", color: "#d62728"},
      "val/recall": {label: "recall (val) %", color: "#8c564b"}}},
    segmentation: {title: "%", min: 0, max: 100, series: {
      "val/pixel_accuracy": {label: "pixel accuracy (val) %", color: "#ff7f0e"},
      "val/mIoU": {label: "mean IoU (val) %", color: "#d62728"}}},
  };
  const taskAxis = TASK_AXES[document.getElementById("job-page").dataset.taskType] || TASK_AXES.classification;
  const SERIES = {
    "train/loss": {label: "loss (train)", color: "#1f77b4", axis: "y"},
    "val/loss": {label: "loss (val)", color: "#2ca02c", axis: "y"},
  };
  Object.entries(taskAxis.series).forEach(([key, s]) => { SERIES[key] = Object.assign({axis: "y1"}, s); });
  // A task type may report its training loss in components (detection: train/loss_coverage, ...) and a
  // metric per class (detection: val/AP_<class id>, segmentation: val/IoU_<class id>): each gets a dashed
  // line, on the loss axis or the task's, also when it first appears during training.
  const PART_COLORS = ["#17becf", "#bcbd22", "#e377c2", "#7f7f7f", "#9edae5"];
  const CLASS_NAMES = JSON.parse(document.getElementById("job-page").dataset.labels || "[]");
  const PER_CLASS = {"val/AP_": "AP", "val/IoU_": "IoU"};   // series prefix -> the metric's name
  const perClassPrefix = key => Object.keys(PER_CLASS).find(prefix => key.startsWith(prefix));
  const isLossPart = key => key.startsWith("train/loss_") || perClassPrefix(key) !== undefined;
  let parts = 0;
  const partSeries = key => {
    const prefix = perClassPrefix(key);
    const id = prefix ? key.slice(prefix.length) : "";
    return {label: prefix ? `${PER_CLASS[prefix]} ${CLASS_NAMES[id] || "class " + id} (val) %`
                          : `${key.slice("train/loss_".length).replace(/_/g, " ")} loss (train)`,
            color: PART_COLORS[parts++ % PART_COLORS.length], axis: prefix ? "y1" : "y", dash: prefix ? [2, 3] : [6, 3]};
  };
  Object.keys(metrics).filter(isLossPart).sort().forEach(key => { SERIES[key] = partSeries(key); });
  const toPoints = key => (metrics[key] || []).map(p => ({x: p[0], y: p[1]}));
  const chartDataset = (key, s) => ({
    key, label: s.label, data: toPoints(key), borderColor: s.color, backgroundColor: s.color, borderDash: s.dash || [],
    yAxisID: s.axis, pointRadius: key.startsWith("val") ? 3 : 0, borderWidth: 2});
  const combined = new Chart(document.getElementById("combined-chart"), {
    type: "line",
    data: {datasets: Object.entries(SERIES).map(([key, s]) => chartDataset(key, s))},
    options: {animation: false, maintainAspectRatio: false, parsing: false,
      scales: {x: {type: "linear", title: {display: true, text: "epoch"}},
               y: {title: {display: true, text: "loss"}, beginAtZero: true},
               y1: {position: "right", min: taskAxis.min, max: taskAxis.max, beginAtZero: true,
                    title: {display: true, text: taskAxis.title}, grid: {drawOnChartArea: false}}}},
  });
  // The best snapshot (digits/model/early_stopping.py): a star on its metric's line.
  const best = JSON.parse((document.getElementById("best-data") || {}).textContent || "null");
  if (best && best.value != null) {
    combined.data.datasets.push({key: "best", label: `best (epoch ${best.epoch})`, data: [{x: best.epoch, y: best.value}],
      yAxisID: (SERIES[`val/${best.metric}`] || {}).axis || "y", showLine: false, pointStyle: "star", pointRadius: 9,
      borderColor: "#000", backgroundColor: "#000", borderWidth: 2});
  }
  const lrChart = new Chart(document.getElementById("lr-chart"), {
    type: "line",
    data: {datasets: [{key: "train/learning_rate", label: "learning rate", data: toPoints("train/learning_rate"),
                       borderColor: "#9467bd", pointRadius: 0, borderWidth: 2}]},
    options: {animation: false, maintainAspectRatio: false, parsing: false,
              scales: {x: {type: "linear", title: {display: true, text: "epoch"}}}},
  });

  function addPoint(key, epoch, value) {
    let ds = [combined, lrChart].flatMap(c => c.data.datasets).find(d => d.key === key);
    if (!ds && isLossPart(key)) {
      ds = chartDataset(key, partSeries(key));
      combined.data.datasets.push(ds);
    }
    if (!ds || epoch == null) return;
    const existing = ds.data.findIndex(p => p.x === epoch);
    if (existing >= 0) ds.data[existing].y = value; else ds.data.push({x: epoch, y: value});
    ds.data.sort((a, b) => a.x - b.x);
    document.getElementById("chart-empty").hidden = true;
    // NaN/inf reach the page as null (strict JSON): the line has a gap there, and the user is told why.
    if (value == null && key.endsWith("loss")) document.getElementById("chart-diverged").hidden = false;
  }

  let pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { combined.update(); lrChart.update(); pending = false; });
  }

  /* ---- snapshots: the select used by classify, download and "Make pretrained model" ---- */
  const select = document.getElementById("snapshot-select");
  let userChose = false, choosing = false;   // once the user picks an epoch, new snapshots leave it be
  if (select) select.addEventListener("change", () => { if (!choosing) userChose = true; });

  function choose(value) {   // a choice of the page's, not the user's
    select.value = value;
    choosing = true;
    select.dispatchEvent(new Event("change"));   // inference.js moves the Download link's epoch
    choosing = false;
  }

  function addSnapshot(epoch) {
    if (!select || epoch == null) return;
    const value = String(epoch);
    if (Array.from(select.options).some(o => o.value === value)) return;
    const option = new Option(`Epoch #${value}`, value);
    const later = Array.from(select.options).find(o => Number(o.value) < Number(epoch));  // newest first
    select.insertBefore(option, later || null);
    if (!userChose) choose(select.options[0].value);
    document.getElementById("inference-body").hidden = false;
    document.getElementById("no-snapshots").hidden = true;
    const download = document.getElementById("btn-download");
    if (download) download.hidden = false;
  }

  /* A finished training's best snapshot becomes the page's default, as a fresh page load has it: selected
     for classify and Download (unless the user picked one), and a "Download best" button. */
  function showBest(epoch) {
    if (!userChose) choose(String(epoch));
    const download = document.getElementById("btn-download");
    let best = document.getElementById("btn-download-best");
    if (!best && download) {
      best = Object.assign(document.createElement("a"), {id: "btn-download-best", className: "btn btn-outline-success"});
      download.after(best);
    }
    if (!best) return;
    best.href = `/models/${jobId}/download?epoch=${epoch}`;
    best.textContent = `Download best (epoch ${epoch})`;
  }

  function dropSnapshotsAfter(epoch) {
    if (!select) return;
    Array.from(select.options).forEach(o => { if (Number(o.value) > epoch) o.remove(); });
  }

  /* ---- what the job's JSON says: after (re)joining the room, and once training is done ---- */
  function applyJobData(data) {
    Object.entries(data.metrics || {}).forEach(([key, points]) => points.forEach(([x, y]) => addPoint(key, x, y)));
    (data.snapshots || []).forEach(addSnapshot);
    if (select && data.snapshots) {   // snapshots_to_keep deletes older ones; the best is marked
      const kept = data.snapshots.map(String);
      Array.from(select.options).forEach(o => {
        if (!kept.includes(o.value)) o.remove();
        else o.textContent = `Epoch #${o.value}` + (Number(o.value) === data.best_epoch ? " (best)" : "");
      });
      if (data.status === "Done" && data.best_epoch != null && kept.includes(String(data.best_epoch))) showBest(data.best_epoch);
    }
    redraw();
    if (data.status === "Done" && !resultsShown) showFinalResults();
  }

  /* Results and model facts are laid out by the server (labels, rounding): take them from the page. */
  let resultsShown = !document.getElementById("results-pending");
  async function showFinalResults() {
    resultsShown = true;
    try {
      const response = await fetch(window.location.pathname, {headers: {Accept: "text/html"}});
      if (!response.ok) throw new Error(response.statusText);
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      ["final-results", "model-card"].forEach(id => {
        const fresh = page.getElementById(id), here = document.getElementById(id);
        if (fresh && here) here.innerHTML = fresh.innerHTML;
      });
      fillJobNames();
    } catch (e) {
      resultsShown = false;   // the next catch-up tries again
    }
  }

  /* Links to the model or pretrained model this one started from show its name, not its id. */
  function fillJobNames() {
    document.querySelectorAll("a.job-name[data-job-id]").forEach(async a => {
      try {
        const data = await DIGITS.request(`/jobs/${a.dataset.jobId}/status`);
        a.textContent = data.name;
      } catch (e) {
        if (e.status === 404) a.insertAdjacentText("afterend", " (deleted)");
      }
    });
  }

  DIGITS.onTaskUpdate(msg => {
    if ((msg.update === "combined_graph" || msg.update === "lr_graph") && msg.message) {
      const m = msg.message;
      if (m.type === "resumed") {  // the run restarts after epoch m.epoch: drop what it will redo
        [combined, lrChart].forEach(c => c.data.datasets.forEach(ds => { ds.data = ds.data.filter(p => p.x <= m.epoch); }));
        dropSnapshotsAfter(m.epoch);
      } else {
        addPoint(`${m.phase}/${m.name}`, m.epoch, m.value);
      }
      redraw();
    } else if (msg.update === "snapshot" && msg.message) {
      addSnapshot(msg.message.epoch);
    } else if (msg.update === "gpu_utilization") {
      const panel = document.getElementById("gpu-panel");
      panel.hidden = false;
      document.getElementById("gpu-stats").innerHTML = (msg.gpus || []).map(g =>
        `<div><b>GPU ${g.index}</b> ${DIGITS.escapeHtml(g.name)}<br>utilization ${g.utilization}% · memory
         ${(g.memory_used / 2 ** 30).toFixed(2)} / ${(g.memory_total / 2 ** 30).toFixed(2)} GiB · ${g.temperature} °C</div>`).join("");
    }
  });

  DIGITS.onJobUpdate(async msg => {
    if (msg.update !== "status") return;
    if (msg.status === "Done") {
      try { applyJobData(await DIGITS.request(`/models/${jobId}.json`)); } catch (e) { /* caught up on reconnect */ }
    } else if (DIGITS.ACTIVE.includes(msg.status)) {
      resultsShown = false;   // resumed: the results shown are from the earlier run
    }
  });
  DIGITS.onJobData(applyJobData);
  fillJobNames();
  window.DIGITS.charts = {combined, lrChart};
})();
