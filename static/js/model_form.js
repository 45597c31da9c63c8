/* New-model form: show the fields of the chosen LR policy / network method, previews. */
(function () {
  "use strict";
  const form = document.getElementById("model-form");
  if (!form) return;
  const $ = id => document.getElementById(id);

  function toggle(selector, attr, value) {
    document.querySelectorAll(selector).forEach(el => { el.hidden = el.dataset[attr] !== value; });
  }
  const policy = $("lr_policy"), method = $("method");
  const refresh = () => { toggle(".lr-params", "policy", policy.value); toggle(".method-pane", "method", method.value); };
  policy.addEventListener("change", refresh);
  method.addEventListener("change", refresh);
  refresh();

  document.querySelectorAll(".pick-previous").forEach(a => a.addEventListener("click", e => {
    e.preventDefault();
    $("previous_networks").value = a.dataset.id;
  }));

  let lrChart = null;
  $("btn-visualize-lr").addEventListener("click", async () => {
    try {
      const data = await DIGITS.request("/models/visualize-lr.json", {method: "POST", body: new FormData(form)});
      const points = data.points.percent.map((p, i) => ({x: p, y: data.points.learning_rate[i]}));
      if (lrChart) lrChart.destroy();
      lrChart = new Chart($("lr-preview"), {type: "line", data: {datasets: [{label: "learning rate", data: points, pointRadius: 0}]},
        options: {animation: false, maintainAspectRatio: false, scales: {x: {type: "linear", title: {display: true, text: "% of training"}}}}});
    } catch (e) { alert(e.message); }
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

  $("btn-customize").addEventListener("click", async () => {
    // Loads the standard network's text into the custom editor, DIGITS' "Customize".
    const name = $("standard_networks").value, framework = $("framework").value;
    try {
      const data = await DIGITS.request(`/models/networks/${encodeURIComponent(name)}.json?framework=${framework}`);
      $("custom_network").value = data.text;
      method.value = "custom";
      refresh();
    } catch (e) { alert(e.message); }
  });
})();
