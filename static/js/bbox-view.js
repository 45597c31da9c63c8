/* The bounding-box view (templates/extensions/view/image-bounding-boxes.html): its slider hides the boxes and
   table rows scoring below the threshold, live; a row under the pointer thickens its box. Every fragment of a
   page includes this script: each view is set up once. */
(function () {
  "use strict";

  function apply(view) {
    const slider = view.querySelector(".bbox-threshold");
    const threshold = Number(slider.value);
    const boxes = view.querySelectorAll(".bbox");
    let shown = 0;
    boxes.forEach(box => {
      const on = Number(box.dataset.score) >= threshold;
      box.style.display = on ? "" : "none";
      if (on) shown += 1;
    });
    view.querySelectorAll(".bbox-row").forEach(row => { row.hidden = Number(row.dataset.score) < threshold; });
    const value = view.querySelector(".bbox-threshold-value");
    if (value) value.textContent = threshold.toFixed(2);
    const count = view.querySelector(".bbox-count");
    if (count) count.textContent = `${shown} of ${boxes.length} detection${boxes.length === 1 ? "" : "s"} shown`;
  }

  function highlight(view, index, on) {
    const box = view.querySelector(`.bbox[data-index="${index}"] rect`);
    if (box) box.setAttribute("stroke-width", on ? "4" : "2");
  }

  function init(root) {
    (root || document).querySelectorAll(".view-bounding-boxes:not([data-ready])").forEach(view => {
      view.dataset.ready = "1";
      const slider = view.querySelector(".bbox-threshold");
      if (!slider) return;
      slider.addEventListener("input", () => apply(view));
      view.querySelectorAll(".bbox-row").forEach(row => {
        row.addEventListener("mouseenter", () => highlight(view, row.dataset.index, true));
        row.addEventListener("mouseleave", () => highlight(view, row.dataset.index, false));
      });
      apply(view);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => init(document));
  else init(document);
  window.DigitsBoundingBoxes = {init: init};
})();
