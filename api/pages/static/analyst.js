// The analyst's procedure page: draw the process diagram with the bpmn-js viewer (from npm,
// served from the package). Without JavaScript the page offers the .bpmn file to download.
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("diagram");
  var status = document.getElementById("diagram-status");
  if (!box || typeof window.BpmnJS !== "function") { return; }
  var say = function (text) { if (status) { status.textContent = text; } };
  fetch(box.dataset.bpmnUrl, { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.text();
    })
    .then(function (xml) {
      box.hidden = false;
      var viewer = new window.BpmnJS({ container: box });
      return viewer.importXML(xml).then(function () {
        viewer.get("canvas").zoom("fit-viewport");
        say("Схема загружена.");
      });
    })
    .catch(function () {
      box.hidden = true;
      say("Схему показать не удалось; её можно скачать по ссылке выше.");
    });
});
