/* A segmentation dataset's Explore page (templates/datasets/images/segmentation/explore.html): the slider sets
   how opaque the painted labels are over the images (0: the images alone, 1: the labels alone). */
(function () {
  "use strict";
  const slider = document.getElementById("label-opacity");
  if (!slider) return;
  const apply = () => document.querySelectorAll("#explore-images .segmentation-label")
    .forEach(img => { img.style.opacity = slider.value; });
  slider.addEventListener("input", apply);
  apply();
})();
