"""axe-core in the page under test: no WCAG 2.0/2.1 A or AA violation may be found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

RUN_AXE = """async (tags) => {
    const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
        nodes: v.nodes.map(n => ({target: n.target.map(String).join(' '), summary: n.failureSummary || ''})),
    }));
}"""


def check_accessibility(page: Page, what: str) -> None:
    """Inject axe-core (the context bypasses the CSP for this only) and assert no violations."""
    page.add_script_tag(path=str(AXE_JS))
    violations: list[dict[str, Any]] = page.evaluate(RUN_AXE, WCAG_TAGS)
    assert violations == [], f"axe-core found WCAG 2.1 A/AA violations on {what} ({page.url}):\n" + format_violations(
        violations
    )


def format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} [{violation['impact']}]: {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            summary = " / ".join(line.strip() for line in node["summary"].splitlines() if line.strip())
            lines.append(f"    {node['target']}: {summary}")
    return "\n".join(lines)
