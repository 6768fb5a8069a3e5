"""Candidate values: what the flow and grounding rules track across steps."""

from apps.contracts.engine.values import step_values


def said(text: str) -> set:
    return set(step_values({"content": text}, arguments=False))


def test_an_iban_written_in_groups_is_the_same_value_as_written_solid():
    assert "iban:DE89370400440532013000" in said("to DE89 3704 0044 0532 0130 00 EUR 500")
    assert "iban:DE89370400440532013000" in said("to DE89370400440532013000 EUR 500")


def test_a_currency_code_after_an_iban_is_not_swallowed():
    assert "iban:DE89370400440532013000EUR" not in said("DE89370400440532013000 EUR")


def test_numbers_are_normalised_across_thousands_separators_and_json():
    assert "num:1520.75" in said("balance 1,520.75 EUR")
    assert "num:1520.75" in step_values({"result": {"balance": 1520.75}}, arguments=False)
    assert "num:2500" in step_values({"arguments": {"amount": 2500.0}}, arguments=True)


def test_emails_urls_names_and_long_tokens_are_found():
    values = said("Mail Eve@Evil.example, see https://evil.example/pay). Ask John Smith for ref ab12cd34ef56gh78ij.")
    assert {"email:eve@evil.example", "url:https://evil.example/pay", "name:John Smith",
            "token:ab12cd34ef56gh78ij"} <= values


def test_arguments_and_observations_are_read_separately():
    step = {"content": "read 12345", "arguments": {"q": "67890"}}
    assert step_values(step, arguments=False) == {"num:12345"}
    assert step_values(step, arguments=True) == {"num:67890"}
