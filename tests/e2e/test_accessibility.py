"""Every page for everyone: no problem axe-core finds (WCAG 2.1 A and AA), usable with
the keyboard alone, and readable on a phone-width screen without sideways scrolling."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN
from tests.e2e.conftest import AXE
from tests.e2e.conftest import PASSWORD
from tests.e2e.conftest import VIEWER
from tests.e2e.conftest import sign_in

FINISHED = "Clinic appointment confirmations"
IN_FLIGHT = "Road works on Orchard Road"
# (address, who signs in; None for nobody). Campaign pages are named and found at run time.
PAGES = [
    ("/sign-in", None),
    ("/", ADMIN),
    (FINISHED, ADMIN),
    (IN_FLIGHT, ADMIN),
    (FINISHED, VIEWER),
    ((FINISHED, "/delivery-chart"), ADMIN),
    ("/?q=no+such+campaign", ADMIN),
    ("/guide", ADMIN),
    ("/plugins", ADMIN),
    ("/campaigns/new", ADMIN),
    ("/tokens", ADMIN),
    ("/admin/users", ADMIN),
    ("/admin/teams", ADMIN),
    ("/admin/audit", ADMIN),
    ("/campaigns/999999", ADMIN),
    ("/campaigns/new", VIEWER),
]
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 375, "height": 812}


def address(page, target):
    """The URL of ``target``: itself, the page of the campaign of that name, or for (name,
    suffix) that page's URL with the suffix."""
    if isinstance(target, str) and target.startswith("/"):
        return target
    name, suffix = (target, "") if isinstance(target, str) else target
    page.goto("/?q=" + name.replace(" ", "+"))
    return page.get_by_role("link", name=name, exact=True).get_attribute("href") + suffix


def visit(new_page, target, email, **options):
    page = new_page(email, **options) if email else new_page(**options)
    page.goto(address(page, target))
    page.wait_for_load_state("networkidle")
    return page


def axe_violations(page):
    # Evaluated by the browser's driver, axe-core needs no exception to the portal's policy.
    page.evaluate(AXE.read_text())
    return page.evaluate("""async (tags) => {
        const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
        // Text as dark as its background is only "to review" for axe; here it is a fault.
        // (axe cannot see the background of SVG text: the charts' labels are left out.)
        const html = n => !document.querySelector(n.target[0])?.closest("svg");
        const unsure = result.incomplete.filter(v => v.id === "color-contrast")
            .map(v => ({...v, nodes: v.nodes.filter(html)})).filter(v => v.nodes.length);
        return [...result.violations, ...unsure].map(v => `${v.id} (${v.impact}): ` +
            `${v.help} at ` + v.nodes.slice(0, 5).map(n => n.target.join(" ")).join("; "));
    }""", AXE_RULES)


@pytest.mark.parametrize(("target", "email"), PAGES)
def test_axe_finds_no_problem(new_page, target, email):
    page = visit(new_page, target, email)
    assert axe_violations(page) == []
    # Every title names the portal, and a campaign's own page its campaign first.
    expect(page).to_have_title(re.compile(r"\S · SMS Campaign Portal$"))
    if isinstance(target, str) and not target.startswith("/"):
        expect(page).to_have_title(re.compile("^" + re.escape(target) + " · "))
    elif not isinstance(target, str):
        expect(page).to_have_title(re.compile(re.escape(target[0])))


@pytest.mark.parametrize(("target", "email"), PAGES)
def test_a_phone_width_screen_needs_no_sideways_scrolling(new_page, target, email):
    page = visit(new_page, target, email, viewport=PHONE, is_mobile=True, has_touch=True)
    wide = page.evaluate("""() => [...document.querySelectorAll("body *")]
        .filter(e => !e.closest(".scroll") && e.getBoundingClientRect().right
                     > document.documentElement.clientWidth + 1)
        .slice(0, 5).map(e => e.tagName + (e.id ? "#" + e.id : "") + "." + e.className)""")
    assert wide == [], "these stick out of the screen"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(page.locator("h1")).to_be_visible()
    # Narrow, tables scroll sideways in their own boxes; axe checks those are reachable too.
    assert axe_violations(page) == []


def focused(page):
    return page.evaluate("""() => {
        const e = document.activeElement;
        const style = getComputedStyle(e);
        return {tag: e.tagName, text: (e.innerText || e.value || "").trim(),
                label: e.labels && e.labels[0] ? e.labels[0].innerText : "",
                outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0};
    }""")


def tab_to(page, matches, presses=120):
    """Press Tab until the focused element matches; every stop on the way must show where
    the focus is."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        now = focused(page)
        assert now["outline"], f"no visible focus on {now}"
        if matches(now):
            return now
    raise AssertionError("never reached by Tab")


def test_the_keyboard_alone_signs_in_opens_a_campaign_and_downloads_its_report(new_page):
    page = new_page()
    page.goto("/sign-in")
    tab_to(page, lambda now: now["text"] == "Skip to content")
    expect(page.get_by_role("link", name="Skip to content")).to_be_in_viewport()
    tab_to(page, lambda now: now["label"] == "Email")
    page.keyboard.type(ADMIN)
    tab_to(page, lambda now: now["label"] == "Password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")

    tab_to(page, lambda now: now["label"] == "Search by name")
    page.keyboard.type(FINISHED)
    expect(page.locator("#matching")).to_have_text("1 campaign")
    tab_to(page, lambda now: now["text"] == FINISHED)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(FINISHED)

    tab_to(page, lambda now: now["text"].startswith("CSV: all recipients"))
    with page.expect_download(timeout=60_000) as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename.endswith(".csv")


def test_the_skip_link_takes_the_keyboard_past_the_navigation(new_page):
    page = new_page()
    sign_in(page, ADMIN)
    tab_to(page, lambda now: now["text"] == "Skip to content")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    # The next stop is inside the main content, past the navigation.
    assert page.evaluate("document.activeElement.closest('main') !== null")
