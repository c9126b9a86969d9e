// MathJax reads this before it loads. Only two kinds of element hold formulas:
// pymdownx.arithmatex (generic mode) wraps each one in ".arithmatex", and
// notebook pages keep their Markdown cells in ".jp-RenderedMarkdown".
window.MathJax = {
  startup: {
    elements: [".arithmatex", ".jp-RenderedMarkdown"],
  },
  tex: {
    // \( \) and \[ \] come from arithmatex; $ and $$ from notebook Markdown cells.
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true,
  },
};

// Instant navigation is off (mkdocs.yml), so each page load typesets once on
// startup; no re-typesetting on page change is needed.
