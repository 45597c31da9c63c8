/* Model page: loss/accuracy and learning-rate charts fed by Socket.IO combined_graph / lr_graph updates; GPU panel. */
(function () {
  "use strict";
  const dataEl = document.getElementById("metrics-data");
  if (!dataEl) return;
  const metrics = JSON.parse(dataEl.textContent || "{}");
  const SERIES = {
    "train/loss": {label: "loss (train)", color: "#1f77b4", axis: "y"},
    "val/loss": {label: "loss (val)", color: "#2ca02c", axis: "y"},
    "val/accuracy": {label: "accuracy (val) %", color: "#ff7f0e", axis: "y1"},
    "val/accuracy_top5": {label: "top-5 accuracy (val) %", color: "#d62728", axis: "y1"},
  };
  const toPoints = key => (metrics[key] || []).map(p => ({x: p[0], y: p[1]}));
  const combined = new Chart(document.getElementById("combined-chart"), {
    type: "line",
    data: {datasets: Object.entries(SERIES).map(([key, s]) => ({
      key, label: s.label, data: toPoints(key), borderColor: s.color, backgroundColor: s.color,
      yAxisID: s.axis, pointRadius: key.startsWith("val") ? 3 : 0, borderWidth: 2}))},
    options: {animation: false, maintainAspectRatio: false, parsing: false,
      scales: {x: {type: "linear", title: {display: true, text: "epoch"}},
               y: {title: {display: true, text: "loss"}, beginAtZero: true},
               y1: {position: "right", min: 0, max: 100, title: {display: true, text: "accuracy (%)"}, grid: {drawOnChartArea: false}}}},
  });
  const lrChart = new Chart(document.getElementById("lr-chart"), {
    type: "line",
    data: {datasets: [{key: "train/learning_rate", label: "learning rate", data: toPoints("train/learning_rate"),
                       borderColor: "#9467bd", pointRadius: 0, borderWidth: 2}]},
    options: {animation: false, maintainAspectRatio: false, parsing: false,
              scales: {x: {type: "linear", title: {display: true, text: "epoch"}}}},
  });

  function addPoint(chart, key, epoch, value) {
    const ds = chart.data.datasets.find(d => d.key === key);
    if (!ds) return false;
    const existing = ds.data.findIndex(p => p.x === epoch);
    if (existing >= 0) ds.data[existing].y = value; else ds.data.push({x: epoch, y: value});
    ds.data.sort((a, b) => a.x - b.x);
    return true;
  }

  let pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { combined.update(); lrChart.update(); pending = false; });
  }

  DIGITS.onTaskUpdate(msg => {
    if ((msg.update === "combined_graph" || msg.update === "lr_graph") && msg.message) {
      const m = msg.message;
      if (m.type === "resumed") {  // the run restarts after epoch m.epoch: drop what it will redo
        [combined, lrChart].forEach(c => c.data.datasets.forEach(ds => { ds.data = ds.data.filter(p => p.x <= m.epoch); }));
      } else {
        const key = `${m.phase}/${m.name}`;
        addPoint(combined, key, m.epoch, m.value) || addPoint(lrChart, key, m.epoch, m.value);
        document.getElementById("chart-empty").hidden = true;
      }
      redraw();
    } else if (msg.update === "gpu_utilization") {
      const panel = document.getElementById("gpu-panel");
      panel.hidden = false;
      document.getElementById("gpu-stats").innerHTML = (msg.gpus || []).map(g =>
        `<div><b>GPU ${g.index}</b> ${DIGITS.escapeHtml(g.name)}<br>utilization ${g.utilization}% · memory
         ${(g.memory_used / 2 ** 30).toFixed(2)} / ${(g.memory_total / 2 ** 30).toFixed(2)} GiB · ${g.temperature} °C</div>`).join("");
    } else if (msg.update === "snapshot" || (msg.update === "status" && msg.status === "Done")) {
      if (!document.getElementById("snapshot-select")) window.location.reload();
    }
  });
  window.DIGITS.charts = {combined, lrChart};
})();
