"""Keyboard-only walking for the browser tests (WCAG 2.2 AA: 2.1.1 Keyboard, 2.4.3 Focus
Order, 2.4.7 Focus Visible, 2.4.11 Focus Not Obscured).

:func:`assert_tab_order` presses Tab through a page, then Shift+Tab back, and checks that the
focus meets every visible control in the order of the page, each with a visible focus
indicator and not hidden under anything. :func:`tab_to` moves the focus to a control by
pressing Tab, as a person would, instead of clicking it.
"""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

#: What Tab stops at: links, buttons, fields, a <details>' summary, and anything given a
#: tabindex of its own. Visibility and radio groups are sorted out in the page.
_MARK_TABBABLE = """
() => {
  const selector = "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]),"
    + " select:not([disabled]), textarea:not([disabled]), summary,"
    + " [tabindex]:not([tabindex='-1'])";
  const found = [];
  const radios = new Set();
  for (const element of document.querySelectorAll(selector)) {
    if (!element.checkVisibility({visibilityProperty: true})) continue;
    if (element.closest("[inert]")) continue;
    if (element.type === "radio" && element.name) {
      // One stop per group: its checked radio, else its first.
      const group = [...document.getElementsByName(element.name)];
      const stop = group.find((r) => r.checked) || group[0];
      if (element !== stop || radios.has(element.name)) continue;
      radios.add(element.name);
    }
    found.push(element);
  }
  return found.map((element, index) => {
    element.dataset.kb = String(index);
    const name = (element.getAttribute("aria-label") || element.labels?.[0]?.innerText
                  || element.innerText || element.value || element.id || "").trim();
    return `${element.tagName.toLowerCase()} ${name.slice(0, 60)}`;
  });
}
"""

#: The focused element: its mark, and whether its focus shows and is not covered.
_FOCUSED = """
() => {
  const element = document.activeElement;
  if (!element || element === document.body) return null;
  const style = getComputedStyle(element);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  const shadow = style.boxShadow && style.boxShadow !== "none";
  const box = element.getBoundingClientRect();
  const x = Math.min(Math.max(box.left + box.width / 2, 0), innerWidth - 1);
  const y = Math.min(Math.max(box.top + box.height / 2, 0), innerHeight - 1);
  const top = document.elementFromPoint(x, y);
  const inView = box.bottom > 0 && box.top < innerHeight && box.right > 0 && box.left < innerWidth;
  const uncovered = inView && !!top && (top === element || element.contains(top)
                    || top.contains(element) || (top.control === element));
  return {mark: element.dataset.kb ?? null, tag: element.tagName.toLowerCase(),
          id: element.id, visible: outline || shadow, uncovered};
}
"""


def tabbable(page: Page) -> list[str]:
    """The page's Tab stops in order (and marks them, for :func:`assert_tab_order`)."""
    return list(page.evaluate(_MARK_TABBABLE))


def _focused(page: Page) -> dict[str, object] | None:
    found = page.evaluate(_FOCUSED)
    return dict(found) if found else None


def _press_until(page: Page, key: str, last: str, limit: int) -> list[dict[str, object]]:
    seen: list[dict[str, object]] = []
    for _ in range(limit):
        page.keyboard.press(key)
        found = _focused(page)
        if found is None:
            continue
        seen.append(found)
        if found["mark"] == last:
            break
    return seen


def assert_tab_order(page: Page, name: str) -> list[str]:
    """Tab from the top of ``page`` to its last control, then Shift+Tab back: every control
    is reached, in the page's order, its focus visible and not covered. Returns the stops."""
    stops = tabbable(page)
    assert stops, f"{name}: nothing to reach by keyboard"
    # Start from the top: the skip link is the first stop of every page.
    page.evaluate("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }")
    page.locator('[data-kb="0"]').focus()
    first = _focused(page)
    assert first is not None, name
    assert first["mark"] == "0", (name, first)
    forward = [first, *_press_until(page, "Tab", str(len(stops) - 1), len(stops) + 5)]
    backward = _press_until(page, "Shift+Tab", "0", len(stops) + 5)
    order = [f["mark"] for f in forward]
    assert order == [str(i) for i in range(len(stops))], (name, order, stops)
    assert [f["mark"] for f in backward] == [str(i) for i in reversed(range(len(stops) - 1))], (
        name,
        backward,
        stops,
    )
    # (The first stop was focused by script; the walk back reaches it by keyboard.)
    for found in forward[1:] + backward:
        stop = stops[int(str(found["mark"]))]
        assert found["visible"], f"{name}: no visible focus on {stop}"
        assert found["uncovered"], f"{name}: the focus on {stop} is hidden"
    return stops


def tab_to(page: Page, target: Locator, *, limit: int = 60) -> None:
    """Press Tab until ``target`` has the focus (from wherever the focus is)."""
    for _ in range(limit):
        if target.evaluate("e => e === document.activeElement"):
            expect(target).to_be_focused()
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")
