/* The segmentation dataset form (templates/datasets/images/segmentation/form.html): the validation folders
   show with "Separate validation images", the colormap file with "From text file"; the folder and file
   fields suggest server paths (path_complete.js picks these inputs up). */
(function () {
  "use strict";
  const root = document.getElementById("segmentation-fields");
  if (!root) return;
  root.querySelectorAll('input[name$="_folder"], input[name$="_file"]').forEach(input => input.classList.add("path-autocomplete"));
  function shows(control, part, visible) {
    const element = document.getElementById(part);
    if (!control || !element) return;
    const apply = () => { element.style.display = visible(control) ? "" : "none"; };
    control.addEventListener("change", apply);
    apply();
  }
  shows(root.querySelector('[name="has_val_folder"]'), "segmentation-val-folders", c => c.checked);
  shows(root.querySelector('[name="colormap_method"]'), "segmentation-colormap-file", c => c.value === "textfile");
})();
