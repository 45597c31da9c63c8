/* Server path completion: text fields naming a folder or file on the server (list="path-suggestions",
   or class "path-autocomplete") suggest the paths /autocomplete/path finds as the user types.
   Used by the new-dataset form and the model / pretrained model pages' inference forms. */
(function () {
  "use strict";
  const LIST_ID = "path-suggestions";
  const DELAY_MS = 200;   // one request per pause in typing, not per key

  function datalist() {
    let list = document.getElementById(LIST_ID);
    if (!list) {
      list = document.createElement("datalist");
      list.id = LIST_ID;
      document.body.appendChild(list);
    }
    return list;
  }

  document.querySelectorAll("input.path-autocomplete").forEach(input => {
    input.setAttribute("list", LIST_ID);
    input.setAttribute("autocomplete", "off");
  });

  let timer = null;
  let asked = 0;
  document.addEventListener("input", ev => {
    const input = ev.target;
    if (!(input instanceof HTMLInputElement) || input.getAttribute("list") !== LIST_ID) return;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const ticket = ++asked;
      try {
        const data = await DIGITS.request("/autocomplete/path?query=" + encodeURIComponent(input.value));
        if (ticket !== asked) return;   // an answer to older text arrived late
        datalist().replaceChildren(...(data.suggestions || []).map(path => {
          const option = document.createElement("option");
          option.value = path;
          return option;
        }));
      } catch (e) { /* completion is a convenience: a path outside the allowed folders just gets none */ }
    }, DELAY_MS);
  });
})();
