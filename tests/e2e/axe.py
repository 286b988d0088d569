"""axe-core in a page the browser tests reach: WCAG 2.2 A and AA rules, no download.

The vendored ``axe.min.js`` (tests/e2e/vendor/axe-core) is evaluated through the DevTools
protocol (``page.evaluate``), not added as a <script>: vahva's Content-Security-Policy
(``script-src 'self'``) stays on and is still checked, and axe reports what a person with a
screen reader or a keyboard would meet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice")
#: Impacts that fail a test. Moderate and minor ones are listed and must be fixed or argued
#: in ALLOWED below.
FAILING = ("critical", "serious", "moderate")
#: Rules switched off, each with the reason (none yet).
ALLOWED: dict[str, str] = {}


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    targets: list[str]

    def __str__(self) -> str:
        return f"{self.impact}: {self.rule} ({self.help}) at {', '.join(self.targets[:5])}"


def violations(page: Page) -> list[Violation]:
    """What axe-core finds in the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return {violations: result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map((n) => n.target.join(" ")),
            }))};
        }""",
        list(TAGS),
    )
    return [
        Violation(v["id"], str(v["impact"]), v["help"], v["targets"])
        for v in result["violations"]
        if v["id"] not in ALLOWED
    ]


def assert_accessible(page: Page, name: str = "") -> None:
    """No critical, serious or moderate axe-core finding in ``page``."""
    found = [v for v in violations(page) if v.impact in FAILING]
    assert found == [], f"axe-core on {name or page.url}:\n" + "\n".join(map(str, found))
