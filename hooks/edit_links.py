"""MkDocs hook (registered in mkdocs.yml after site_hooks.py): from any page to
the files that make it.

- Every Markdown page gets Material's "Edit this page" button from `repo_url`
  and `edit_uri` (mkdocs.yml).
- A tutorial page docs/NN_<stem>.md also ends with links to its module
  tutorial_code/<stem>.py and its test tests/test_<stem>.py.
- A generated notebook page (notebooks/NN_<stem>.ipynb) has no source file of
  its own: its edit button points at the tutorial page it is generated from,
  and it links to that page's module.
- `{source}` in `copyright` (the footer) becomes the repository's file URL
  prefix, so the contributor guide link follows `repo_url` and the branch.

The repository is named in one place, `repo_url`; the branch comes from
`edit_uri` (GitHub form: edit/<branch>/docs/).
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import urljoin

from mkdocs.exceptions import PluginError

TUTORIAL_PAGE = re.compile(r"^(?P<page>\d\d_(?P<stem>\w+))\.md$")
NOTEBOOK_PAGE = re.compile(r"^notebooks/(?P<page>\d\d_(?P<stem>\w+))\.ipynb$")
EDIT_URI = re.compile(r"^edit/(?P<branch>[^/]+)/(?P<docs>.*)$")
# Material's header repository link makes every reader's browser ask
# api.github.com for star and fork counts. The site loads nothing from other
# hosts, so the link stays and that lookup goes.
SOURCE_FACTS = ' data-md-component="source"'


def source_url(config, path: str) -> str:
    """The repository page of a file, e.g. .../blob/main/tutorial_code/x.py."""
    branch = EDIT_URI.match(config.edit_uri or "")["branch"]
    return f"{config.repo_url.rstrip('/')}/blob/{branch}/{path}"


def edit_url(config, docs_path: str) -> str:
    """The edit URL of a file under docs/, built the way MkDocs builds its own."""
    return urljoin(config.repo_url.rstrip("/") + "/", config.edit_uri + docs_path)


def on_config(config, **kwargs):
    if not config.repo_url or not EDIT_URI.match(config.edit_uri or ""):
        raise PluginError(
            "hooks/edit_links.py needs repo_url and an edit_uri of the form "
            f"edit/<branch>/docs/ in mkdocs.yml (got {config.edit_uri!r})"
        )
    if config.copyright:
        config.copyright = config.copyright.replace("{source}", source_url(config, ""))
    return config


def _code_link(config, path: str) -> str:
    return f'<a href="{html.escape(source_url(config, path))}"><code>{path}</code></a>'


def tutorial_note(config, stem: str) -> str:
    module, test = f"tutorial_code/{stem}.py", f"tests/test_{stem}.py"
    return (
        '\n<p class="page-source">Code for this page: '
        f"{_code_link(config, module)}, tested by {_code_link(config, test)}.</p>\n"
    )


def notebook_note(config, page: str, stem: str) -> str:
    return (
        '\n<p class="page-source">This notebook is generated when the site is '
        f"built, from {_code_link(config, f'docs/{page}.md')} and its code "
        f"{_code_link(config, f'tutorial_code/{stem}.py')}: edit those, not "
        "the notebook.</p>\n"
    )


def on_page_content(html_text, page, config, files, **kwargs):
    root = Path(config.config_file_path).resolve().parent
    src_uri = page.file.src_uri
    notebook = NOTEBOOK_PAGE.match(src_uri)
    if notebook:
        page.edit_url = edit_url(config, f"{notebook['page']}.md")
        return html_text + notebook_note(config, notebook["page"], notebook["stem"])
    tutorial = TUTORIAL_PAGE.match(src_uri)
    if tutorial and (root / "tutorial_code" / f"{tutorial['stem']}.py").exists():
        return html_text + tutorial_note(config, tutorial["stem"])
    return html_text


def on_post_page(output, page, config, **kwargs):
    return output.replace(SOURCE_FACTS, "")


def on_post_template(output_content, template_name, config, **kwargs):
    return output_content.replace(SOURCE_FACTS, "")  # 404.html has the header too
