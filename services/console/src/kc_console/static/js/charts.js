// Draws every <canvas data-chart="id-of-a-json-block"> with Chart.js (vendored). The numbers are also
// in the table beside each chart; the canvas carries a text alternative.
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  Chart.defaults.font.family = "'Be Vietnam Pro', system-ui, sans-serif";
  Chart.defaults.color = "#1b1b1b";
  var palette = ["#0b4f9c", "#c05600", "#2e7d32", "#6a1b9a"];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    data.datasets.forEach(function (d, i) { d.backgroundColor = palette[i % palette.length]; });
    new Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: data.datasets },
      options: {
        responsive: true,
        animation: false,
        plugins: { title: { display: true, text: data.title + " (" + data.unit + ")" } },
        scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: data.unit } } },
        locale: "vi-VN"
      }
    });
  });
})();
