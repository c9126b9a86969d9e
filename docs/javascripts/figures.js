// Draws the tutorial figures the build embedded as JSON, in the reader's palette.
(function () {
  "use strict";

  function cssVar(name) {
    return getComputedStyle(document.body).getPropertyValue(name).trim();
  }

  // Colours come from the theme's CSS variables, so light and dark both fit.
  function paletteLayout() {
    const text = cssVar("--md-default-fg-color") || "#222";
    const grid = cssVar("--md-default-fg-color--lightest") || "#ddd";
    const axis = { gridcolor: grid, zerolinecolor: grid, linecolor: grid, color: text };
    return {
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: text },
      colorway: ["#3f6fd8", "#e8702a", "#2ca58d", "#c2409a", "#8c6bb1", "#a0a43b"],
      xaxis: axis,
      yaxis: axis,
      legend: { bgcolor: "rgba(0,0,0,0)" },
    };
  }

  // Apply palette defaults to every axis the figure has (scatter matrices have many).
  function styledLayout(layout) {
    const base = paletteLayout();
    const styled = Object.assign({}, layout, {
      paper_bgcolor: base.paper_bgcolor,
      plot_bgcolor: base.plot_bgcolor,
      colorway: layout.colorway || base.colorway,
      font: Object.assign({}, layout.font, base.font),
      legend: Object.assign({}, base.legend, layout.legend),
      autosize: true,
    });
    delete styled.width;
    const axes = Object.keys(layout).filter((k) => /^[xy]axis\d*$/.test(k));
    for (const key of axes.length ? axes : ["xaxis", "yaxis"]) {
      styled[key] = Object.assign({}, layout[key], base.xaxis);
    }
    return styled;
  }

  function draw(figure) {
    const target = figure.querySelector(".plotly-figure");
    const spec = JSON.parse(figure.querySelector(".plotly-data").textContent);
    target._spec = spec;
    return Plotly.newPlot(target, spec.data, styledLayout(spec.layout || {}), {
      responsive: true,
      displaylogo: false,
    });
  }

  function restyleAll() {
    document.querySelectorAll(".tutorial-figure .plotly-figure").forEach((target) => {
      if (target._spec) Plotly.relayout(target, styledLayout(target._spec.layout || {}));
    });
  }

  function drawAll() {
    document.querySelectorAll(".tutorial-figure").forEach(draw);
  }

  if (window.document$) {
    document$.subscribe(drawAll);
  } else {
    document.addEventListener("DOMContentLoaded", drawAll);
  }
  // Follow the palette toggle: Material switches data-md-color-scheme on <body>.
  new MutationObserver(restyleAll).observe(document.body, {
    attributes: true,
    attributeFilter: ["data-md-color-scheme"],
  });
})();
