/* A segmentation dataset's page (templates/datasets/images/segmentation/_summary.html): pixels per class, one
   bar series per split, each class's bar edged in its colormap colour, from the page's dataset.json facts. */
(function () {
  "use strict";
  const source = document.getElementById("segmentation-data");
  const canvas = document.getElementById("class-pixel-chart");
  if (!source || !canvas || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const fills = {train: "#0d6efd", val: "#fd7e14", test: "#198754"};
  const edges = data.labels.map((_, i) => `rgb(${(data.colormap[i] || [0, 0, 0]).join(",")})`);
  const splits = Object.keys(data.splits).filter(s => data.splits[s].pixels);
  if (!splits.length) return;
  new Chart(canvas, {type: "bar", data: {labels: data.labels.map((name, i) => `${i} ${name}`), datasets: splits.map(s => ({
    label: s, data: data.splits[s].pixels.per_class, backgroundColor: fills[s] || "#6c757d",
    borderColor: edges, borderWidth: 3}))},
    options: {maintainAspectRatio: false, animation: false}});
})();
