// Draws the tutorial figures the build embedded as JSON, in the reader's palette.
// plotly.js is fetched only by pages that have a figure, once per visit: the
// browser caches it like any other static file. It is a partial bundle (npm's
// plotly.js-basic-dist-min, 1.2 MB: scatter, bar and pie) when `npm ci`
// installed it, else the full one (4.8 MB).
(function () {
  "use strict";

  const PLOTLY_URL = new URL("../assets/vendor/plotly.min.js", document.currentScript.src);
  let plotlyLoading;

  function loadPlotly() {
    if (window.Plotly) return Promise.resolve();
    plotlyLoading ||= new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = PLOTLY_URL.href;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`could not load ${script.src}`));
      document.head.appendChild(script);
    });
    return plotlyLoading;
  }

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
      font: Object.assign({}, layout.font, { size: 10 }),
    };
  }

  // Every axis a figure draws: the first pair, and those its layout names
  // (subplots made with make_subplots name theirs: xaxis2, yaxis2, ...).
  function axisKeys(layout) {
    const keys = new Set(["xaxis", "yaxis"]);
    Object.keys(layout).filter((k) => /^[xy]axis\d*$/.test(k)).forEach((k) => keys.add(k));
    return [...keys];
  }

  // Apply palette defaults to every axis the figure has.
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
    for (const key of axisKeys(layout)) {
      styled[key] = Object.assign({}, layout[key], base.xaxis);
    }
    const narrow = narrowLayout(layout, width);
    if (narrow.font) narrow.font = Object.assign({}, styled.font, narrow.font);
    return Object.assign(styled, narrow);
  }

  function draw(figure) {
    const target = figure.querySelector(".plotly-figure");
    const spec = JSON.parse(figure.querySelector(".plotly-data").textContent);
    target._spec = spec;
    target._narrow = target.clientWidth < 600;
    const layout = styledLayout(spec.layout || {}, target.clientWidth);
    return Plotly.newPlot(target, spec.data, layout, {
      responsive: true,
      displaylogo: false,
    }).then(() => reportMissingTraceTypes(figure, target, spec));
  }

  // plotly.js draws a trace whose type its bundle lacks as nothing, silently
  // (it falls back to an invisible scatter): say so on the page and in the
  // console, where the browser tests look.
  function reportMissingTraceTypes(figure, target, spec) {
    const missing = spec.data
      .map((trace) => trace.type || "scatter")
      .filter((type, i) => target._fullData[i].type !== type);
    if (!missing.length) return;
    const title = (spec.layout || {}).title;
    const message =
      `Figure "${(title && title.text) || title || ""}": this site's plotly.js ` +
      `cannot draw trace type ${[...new Set(missing)].join(", ")}`;
    console.error(message);
    const note = document.createElement("p");
    note.className = "figure-error";
    note.textContent = message + ".";
    figure.prepend(note);
  }

  function restyle(target) {
    if (!target._spec) return;
    target._narrow = target.clientWidth < 600;
    // react, not relayout: keys the narrow layout added must also go away again.
    const spec = target._spec;
    Plotly.react(target, target.data, styledLayout(spec.layout || {}, target.clientWidth));
  }

  function restyleAll() {
    document.querySelectorAll(".tutorial-figure .plotly-figure").forEach(restyle);
  }

  // Rotating a phone or resizing a window can cross the narrow-layout threshold.
  let resizeTimer;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      document.querySelectorAll(".tutorial-figure .plotly-figure").forEach((target) => {
        if (target._spec && target._narrow !== target.clientWidth < 600) restyle(target);
      });
    }, 150);
  });

  // A figure in a closed block (an exercise's solution) misses the resizes
  // made while it was hidden: fit it to the column when the block opens.
  document.addEventListener(
    "toggle",
    (event) => {
      if (!event.target.open) return;
      event.target.querySelectorAll(".tutorial-figure .plotly-figure").forEach((target) => {
        if (!target._spec) return;
        if (target._narrow !== target.clientWidth < 600) restyle(target);
        else Plotly.Plots.resize(target);
      });
    },
    true, // toggle events do not bubble
  );

  function drawAll() {
    const figures = document.querySelectorAll(".tutorial-figure");
    if (figures.length) loadPlotly().then(() => figures.forEach(draw));
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
