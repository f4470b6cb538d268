// The clerk's desk: the list refreshes itself (htmx polls #desk-rows), except while the clerk
// has ticked rows to claim, so a refresh never drops their choice. Without JavaScript the page
// offers a refresh link instead.
document.addEventListener("htmx:beforeRequest", function (event) {
  var rows = document.getElementById("desk-rows");
  if (rows && event.detail.elt === rows &&
      rows.querySelector('input[name="tasks"]:checked')) {
    event.preventDefault();
  }
});
