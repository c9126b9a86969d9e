// MathJax, fetched only by pages that have a formula: most of the site's pages
// have none, and MathJax is the heaviest file after plotly.js. Formulas come in
// two forms: pymdownx.arithmatex (generic mode) wraps each in ".arithmatex", and
// notebook pages keep their Markdown cells' TeX as text ($...$, $$...$$).
(function () {
  "use strict";

  const STARTUP_URL = new URL(
    "../assets/vendor/mathjax/startup.js",
    document.currentScript.src,
  );
  const FORMULAS = ".arithmatex, .jp-RenderedMarkdown";
  const TEX = /\$[^$]+\$|\\\(|\\\[|\\begin\{/;

  // MathJax reads this when startup.js runs. Its components are in
  // assets/vendor/mathjax/ (hooks/site.py): the TeX input, the CHTML
  // output and the hidden MathML that screen readers read; no context menu.
  window.MathJax = {
    loader: { load: ["input/tex", "output/chtml", "a11y/assistive-mml"] },
    startup: { elements: [FORMULAS] },
    tex: {
      // \( \) and \[ \] come from arithmatex; $ and $$ from notebook Markdown cells.
      inlineMath: [["\\(", "\\)"], ["$", "$"]],
      displayMath: [["\\[", "\\]"], ["$$", "$$"]],
      processEscapes: true,
      processEnvironments: true,
    },
  };

  // A notebook's Markdown cell holds TeX if its prose (not its code) does.
  function holdsTeX(cell) {
    const prose = cell.cloneNode(true);
    prose.querySelectorAll("code, pre").forEach((code) => code.remove());
    return TEX.test(prose.textContent);
  }

  function hasMath() {
    return [...document.querySelectorAll(FORMULAS)].some(
      (el) => el.classList.contains("arithmatex") || holdsTeX(el),
    );
  }

  let requested = false;

  function typeset() {
    if (!hasMath()) return;
    if (window.MathJax.typesetPromise) {
      // Already loaded: only a page swapped in by instant navigation gets here.
      MathJax.typesetPromise(document.querySelectorAll(FORMULAS));
      return;
    }
    if (requested) return; // still starting: it typesets the page it finds
    requested = true;
    // On startup MathJax loads its components and typesets the page.
    const script = document.createElement("script");
    script.src = STARTUP_URL.href;
    document.head.appendChild(script);
  }

  if (window.document$) {
    document$.subscribe(typeset);
  } else {
    document.addEventListener("DOMContentLoaded", typeset);
  }
})();
