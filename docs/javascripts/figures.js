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

  // On a phone-width column a legend beside the plot squeezes it to a sliver, and
  // plotly never wraps a long title: move the legend below, shrink the title.
  function narrowLayout(layout, width) {
    if (width >= 600) return {};
    const title = typeof layout.title === "string" ? { text: layout.title } : layout.title || {};
    return {
      legend: Object.assign({}, layout.legend, {
        orientation: "h", x: 0, xanchor: "left", y: -0.25, yanchor: "top",
      }),
      title: Object.assign({}, title, { font: { size: 13 }, x: 0.02, xanchor: "left" }),
      margin: { l: 50, r: 10, t: 50, b: 40 },
    };
  }

  // Apply palette defaults to every axis the figure has (scatter matrices have many).
  function styledLayout(layout, width) {
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
    return Object.assign(styled, narrowLayout(layout, width));
  }

  function draw(figure) {
    const target = figure.querySelector(".plotly-figure");
    const spec = JSON.parse(figure.querySelector(".plotly-data").textContent);
    target._spec = spec;
    const layout = styledLayout(spec.layout || {}, target.clientWidth);
    return Plotly.newPlot(target, spec.data, layout, {
      responsive: true,
      displaylogo: false,
    });
  }

  function restyleAll() {
    document.querySelectorAll(".tutorial-figure .plotly-figure").forEach((target) => {
      if (target._spec) {
        Plotly.relayout(target, styledLayout(target._spec.layout || {}, target.clientWidth));
      }
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
