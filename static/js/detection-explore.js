/* A detection dataset's Explore page (templates/datasets/images/detection/explore.html): the checkboxes show or
   hide the DontCare regions and the class names drawn over the images, in the page. */
(function () {
  "use strict";
  function toggle(checkbox, selector) {
    if (!checkbox) return;
    const apply = () => document.querySelectorAll(selector).forEach(el => { el.style.display = checkbox.checked ? "" : "none"; });
    checkbox.addEventListener("change", apply);
    apply();
  }
  toggle(document.getElementById("show-dontcare"), "#explore-images .detection-box.dontcare");
  toggle(document.getElementById("show-names"), "#explore-images .detection-name");
})();
