// Notebook pages: code that the tutorial page folds away (a "Going further"
// block, the code of a plotting helper) comes in cells tagged "folded"
// (hooks/render.py). JupyterLab folds such a cell by itself; here each run of
// them goes into one closed <details>, styled like the page's own blocks.
(function () {
  "use strict";

  // The template writes each cell's classes on two nested <div>s: the outer one.
  const cells = [...document.querySelectorAll(".jp-Cell.celltag_folded")].filter(
    (cell) => !cell.parentElement.closest(".celltag_folded"),
  );
  let block = null; // the <details> of the run of folded cells being gathered
  for (const cell of cells) {
    if (!block || block.nextElementSibling !== cell) {
      block = document.createElement("details");
      block.className = "example";
      const title = document.createElement("summary");
      title.textContent = "Code folded as on the tutorial page: open to read it";
      block.append(title);
      cell.before(block);
    }
    block.append(cell);  // the cell with its outputs, as the page folds both
  }
})();
