"""The documentation speaks only of the project: no paths of a development machine, no
references to the project's issue tracker, commands a user can run from their own folder
(``DATA`` standing for the folder holding the data sets)."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted((REPO / "docs").rglob("*.md")) + [REPO / "README.md"]
FORBIDDEN = {
    "a development machine's path": re.compile(r"/work/|\.\./shared"),
    "a reference to an issue": re.compile(r"\bissues?[ -]#?\d+|\bthe issue\b", re.I),
}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_a_page_has_no_development_paths_or_issue_references(page):
    found = [
        f"{page.name}:{number}: {what}: {line.strip()}"
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        for what, pattern in FORBIDDEN.items()
        # another project's tracker, cited by its repository, is a citation
        if pattern.search(re.sub(r"[\w.-]+/[\w.-]+ issues? #?\d+", "", line))
    ]
    assert not found, "\n".join(found)


def test_the_readme_sets_up_in_two_commands():
    setup = re.search(
        r"^## Set up\n(.*?)^## ", (REPO / "README.md").read_text(encoding="utf-8"), re.S | re.M
    ).group(1)
    assert setup.count("```bash") == 2
