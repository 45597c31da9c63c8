/* A detection dataset's page (templates/datasets/images/detection/_summary.html): boxes per class and the
   box-size histogram, one bar series per split, from the page's dataset.json facts. */
(function () {
  "use strict";
  const source = document.getElementById("detection-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const colors = {train: "#0d6efd", val: "#fd7e14", test: "#198754"};
  const splits = Object.keys(data.splits).filter(s => data.splits[s].boxes);

  function bars(id, labels, values) {
    const canvas = document.getElementById(id);
    if (!canvas || !splits.length) return;
    new Chart(canvas, {type: "bar", data: {labels: labels, datasets: splits.map(s => ({
      label: s, data: values(data.splits[s].boxes), backgroundColor: colors[s] || "#6c757d"}))},
      options: {maintainAspectRatio: false, animation: false}});
  }

  bars("class-chart", data.labels, boxes => boxes.per_class);
  const edges = splits.length ? data.splits[splits[0]].boxes.size_histogram.edges : [];
  bars("box-size-chart", edges.slice(0, -1).map((e, i) => `${e}–${edges[i + 1]}`),
       boxes => boxes.size_histogram.counts);
})();
