/* The dataset form's "See example": a sample picture resized to the form's size by every resize mode
   (POST /datasets/images/resize-example), the chosen mode marked. */
(function () {
  "use strict";
  const button = document.getElementById("btn-resize-example");
  if (!button) return;
  const box = document.getElementById("resize-example");
  button.addEventListener("click", async () => {
    const form = button.closest("form");
    const body = new FormData();
    ["resize_width", "resize_height", "resize_channels", "encoding"].forEach(name => {
      if (form.elements[name]) body.append(name, form.elements[name].value);
    });
    box.hidden = false;
    box.textContent = "Resizing…";
    try {
      const data = await DIGITS.request("/datasets/images/resize-example.json", {method: "POST", body});
      const chosen = form.elements.resize_mode ? form.elements.resize_mode.value : "";
      box.innerHTML = `<div class="d-flex flex-wrap gap-3">${data.examples.map(e => `
        <figure class="figure mb-0${e.resize_mode === chosen ? " border border-primary p-1" : ""}" data-resize-mode="${DIGITS.escapeHtml(e.resize_mode)}">
          <img src="${e.image}" class="figure-img border mb-1" style="width:${data.width}px;height:${data.height}px;max-width:100%" alt="">
          <figcaption class="figure-caption">${DIGITS.escapeHtml(e.resize_mode)} · ${e.bytes} bytes</figcaption>
        </figure>`).join("")}</div>`;
    } catch (e) {
      box.textContent = e.message;
    }
  });
})();
