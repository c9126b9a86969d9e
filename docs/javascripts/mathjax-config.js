// MathJax reads this before it loads. pymdownx.arithmatex (generic mode) wraps
// every formula in an element with class "arithmatex"; typeset only those.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};

// Instant navigation is off (mkdocs.yml), so each page load typesets once on
// startup; no re-typesetting on page change is needed.
