/* The segmentation view (templates/extensions/view/image-segmentation.html): its slider sets the colour mask's
   opacity over the image, live. Every fragment of a page includes this script: each view is set up once. */
(function () {
  "use strict";

  function apply(view) {
    const slider = view.querySelector(".seg-opacity");
    const opacity = Number(slider.value);
    const mask = view.querySelector(".seg-mask");
    if (mask) mask.style.opacity = String(opacity);
    const value = view.querySelector(".seg-opacity-value");
    if (value) value.textContent = opacity.toFixed(2);
  }

  function init(root) {
    (root || document).querySelectorAll(".view-segmentation:not([data-ready])").forEach(view => {
      view.dataset.ready = "1";
      const slider = view.querySelector(".seg-opacity");
      if (!slider) return;
      slider.addEventListener("input", () => apply(view));
      apply(view);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => init(document));
  else init(document);
  window.DigitsSegmentation = {init: init};
})();
