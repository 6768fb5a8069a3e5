"""The YAML editors in Chromium (issue 16, item 10): line numbers beside the text that follow typing
and scrolling, each problem printed once and a click on it selecting its line, a coloured version
diff that opens on previous-against-current, and a what-if form that shows a policy's fields only."""

import pytest
from playwright.sync_api import expect

from apps.policies import services
from tests.browser.reviewer import shot, signed_in
from tests.governance.builders import MARKET
from tests.policies.conftest import BANK

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

BROKEN_POLICY = """name: shop
default: block
rules:
  - {tool: buy, effect: maybe}
  - tool: read_*
    effect: allow
  - {tool: 3, effect: allow}
"""


def _line_of_caret(textarea) -> tuple[int, str]:
    """The 1-based line the selection starts on, and the selected text."""
    return tuple(textarea.evaluate(
        "el => [el.value.slice(0, el.selectionStart).split('\\n').length,"
        " el.value.slice(el.selectionStart, el.selectionEnd)]"))


def test_policy_editor_numbers_lines_prints_each_problem_once_and_a_click_selects_its_line(
        browser, live_server, admin):
    page = signed_in(browser, live_server, "alice", "pw-for-tests")
    page.goto("/p/acme/policies/new/")
    numbers = page.locator("#editor .code-editor .gutter .numbers")
    source = page.locator("#source")
    starter_lines = source.input_value().count("\n") + 1
    expect(numbers).to_have_text("\n".join(str(i) for i in range(1, starter_lines + 1)))

    source.fill(BROKEN_POLICY)
    expect(numbers).to_have_text("\n".join(str(i) for i in range(1, 9)))  # typing renumbers
    page.click("button:has-text('Publish')")
    page.wait_for_selector("#result li.error")
    result = page.locator("#result")
    assert result.inner_text().count("'effect' is allow or deny") == 1  # printed once, not twice
    assert result.locator("li.error").count() == 2
    assert result.locator(".goto-line").all_inner_texts() == ["line 4", "line 7"]

    result.locator(".goto-line[data-line='7']").click()
    assert page.evaluate("document.activeElement.id") == "source"
    assert _line_of_caret(source) == (7, "  - {tool: 3, effect: allow}")
    expect(page.locator("#editor .gutter .mark[data-line='7']")).to_have_count(1)
    shot(page, "editor-policy-problems")


def test_line_numbers_scroll_with_a_long_policy_and_a_click_brings_a_far_line_into_view(
        browser, live_server, admin):
    page = signed_in(browser, live_server, "alice", "pw-for-tests")
    page.goto("/p/acme/policies/new/")
    long_source = BROKEN_POLICY + "".join(f"  - {{tool: read_{i}, effect: allow}}\n" for i in range(80)) + \
        "  - {tool: last, effect: nope}\n"
    source = page.locator("#source")
    source.fill(long_source)
    source.evaluate("el => { el.scrollTop = 400; }")
    gutter = page.locator("#editor .gutter")
    expect(gutter).to_have_js_property("scrollTop", 400)
    page.click("button:has-text('Validate')")
    page.wait_for_selector("#result .goto-line[data-line='88']")
    page.click("#result .goto-line[data-line='88']")
    assert _line_of_caret(source) == (88, "  - {tool: last, effect: nope}")
    top = source.evaluate("el => el.scrollTop")
    assert top > 400
    expect(gutter).to_have_js_property("scrollTop", top)
    # the number beside the selected line is the line's own: same offset from the top of each box
    line_box = page.locator("#editor .gutter .mark[data-line='88']").bounding_box()
    area = source.bounding_box()
    assert area["y"] <= line_box["y"] <= area["y"] + area["height"]


def test_contract_editor_error_is_a_button_to_its_line(browser, live_server, admin):
    page = signed_in(browser, live_server, "alice", "pw-for-tests")
    page.goto("/p/acme/contracts/")
    page.fill("#contract-source", "name: broken\nseverity: high\nrules:\n  - never: {tol: x}\n")
    page.click("button[type=submit]:has-text('Publish')")
    page.wait_for_selector("#contract-problems")
    problems = page.locator("#contract-problems li")
    expect(problems).to_have_count(1)
    assert "unknown step field 'tol'" in problems.inner_text()
    problems.locator(".goto-line").click()
    assert _line_of_caret(page.locator("#contract-source")) == (4, "  - never: {tol: x}")
    expect(page.locator("#contracts .gutter .numbers")).to_contain_text("4")
    shot(page, "editor-contract-problem")


def test_graph_editor_lists_each_problem_once_with_its_line(browser, live_server, admin):
    page = signed_in(browser, live_server, "alice", "pw-for-tests")
    page.goto("/p/acme/governance/graphs/")
    broken = MARKET.replace("to: restricted\n", "to: jail\n", 1)
    jail_line = broken.splitlines().index("    to: jail") + 1
    page.fill("textarea[name=source]", broken)
    page.click("text=Validate")
    page.wait_for_selector("#graph-problems")
    problems = page.locator("#graph-problems li")
    expect(problems).to_have_count(1)
    assert problems.inner_text().count("unknown state 'jail'") == 1
    problems.locator(f".goto-line[data-line='{jail_line}']").click()
    assert _line_of_caret(page.locator("textarea[name=source]")) == (jail_line, "    to: jail")
    shot(page, "editor-graph-problem")


def test_policy_page_opens_on_a_coloured_diff_of_the_previous_version_against_the_current(
        browser, live_server, project, admin):
    services.policy_publish(project=project, source=BANK, actor=admin)
    services.policy_publish(project=project, source=BANK.replace("maximum: 1000", "maximum: 500")
                            .replace("  - id: reads\n", "  - id: balance\n    tool: read_balance\n    effect: allow\n"
                                     "  - id: reads\n"), actor=admin)
    page = signed_in(browser, live_server, "alice", "pw-for-tests")
    page.goto("/p/acme/policies/bank/")
    assert page.locator("select[name=old]").input_value() == "1"
    assert page.locator("select[name=new]").input_value() == "2"
    diff = page.locator("#diff pre.diff")
    expect(diff.locator(".del")).to_contain_text(["maximum: 1000"])
    assert "maximum: 500" in " ".join(diff.locator(".add").all_inner_texts())
    assert diff.locator(".add").count() == 4 and diff.locator(".del").count() == 1
    added = diff.locator(".add").first.evaluate("el => getComputedStyle(el).backgroundColor")
    removed = diff.locator(".del").first.evaluate("el => getComputedStyle(el).backgroundColor")
    context = diff.locator(".ctx").first.evaluate("el => getComputedStyle(el).backgroundColor")
    assert len({added, removed, context}) == 3  # green, red, plain
    shot(page, "editor-policy-diff")

    page.select_option("select[name=old]", "2")  # choosing the same version says so
    expect(page.locator("#diff")).to_contain_text("v2 and v2 are identical")


def test_policy_with_one_version_offers_no_diff_of_it_with_itself(browser, live_server, project, admin):
    services.policy_publish(project=project, source=BANK, actor=admin)
    page = signed_in(browser, live_server, "alice", "pw-for-tests")
    page.goto("/p/acme/policies/bank/")
    expect(page.locator("select[name=old]")).to_have_count(0)
    assert "identical" not in page.locator("main").inner_text()


def test_whatif_form_shows_a_policy_what_if_only_its_fields(browser, live_server, reviewer):
    page = signed_in(browser, live_server, "rita", "pw-for-tests")
    page.goto("/p/acme/contracts/whatif/")
    form = page.locator("#whatif-form")
    contract, version = form.locator("select[name=contract]"), form.locator("input[name=version]")
    expect(contract).to_be_visible()
    expect(version).to_be_visible()
    form.locator("select[name=kind]").select_option("policy")
    expect(contract).to_be_hidden()
    expect(version).to_be_hidden()
    expect(form.get_by_text("Candidate policy source (YAML, required)")).to_be_visible()
    expect(form.get_by_text("Or candidate contract source (YAML)")).to_be_hidden()
    form.locator("#whatif-source").fill(BROKEN_POLICY)
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#whatif-problems")
    # the page comes back with the policy's fields, and each problem leads to its line
    expect(page.locator("#whatif-form select[name=contract]")).to_be_hidden()
    assert page.locator("#whatif-form select[name=kind]").input_value() == "policy"
    assert page.locator("#whatif-problems .goto-line").all_inner_texts() == ["line 4", "line 7"]
    page.click("#whatif-problems .goto-line[data-line='4']")
    assert _line_of_caret(page.locator("#whatif-source"))[0] == 4
    shot(page, "editor-whatif-policy")
    form = page.locator("#whatif-form")
    form.locator("select[name=kind]").select_option("contract")
    expect(form.locator("select[name=contract]")).to_be_visible()
