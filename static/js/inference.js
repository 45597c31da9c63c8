/* Model page, "Test the model" card: the chosen snapshot goes with every inference form and the
   Download button; an image upload and a server path are alternatives. */
(function () {
  "use strict";
  const select = document.getElementById("snapshot-select");

  function epoch() { return select ? select.value : ""; }

  function syncDownload() {
    const link = document.getElementById("btn-download");
    if (!link) return;
    const url = new URL(link.getAttribute("href"), window.location.href);
    if (epoch()) url.searchParams.set("epoch", epoch()); else url.searchParams.delete("epoch");
    link.setAttribute("href", url.pathname + url.search);
  }

  document.querySelectorAll("form.inference-form, #form-to-pretrained").forEach(form => {
    form.addEventListener("submit", () => {
      const field = form.querySelector('input[name="snapshot_epoch"]');
      if (field) field.value = epoch();
    });
  });

  const file = document.getElementById("image_file");
  const path = document.getElementById("image_path");
  if (file && path) {  // whichever the user filled last wins: clear the other one
    file.addEventListener("change", () => { if (file.files.length) path.value = ""; });
    path.addEventListener("input", () => { if (path.value) file.value = ""; });
  }

  if (select) select.addEventListener("change", syncDownload);
  syncDownload();
})();
