"""The shared document loader: bounded, safe, JSON data only, lines for every key and item."""

import pytest

from apps.core.documents import (
    CompileCache,
    DocumentError,
    Limits,
    PatternError,
    compile_pattern,
    content_digest,
    load_document,
    plain,
)


def issues_of(text: str, **kwargs) -> list[tuple[str, int | None, str]]:
    with pytest.raises(DocumentError) as info:
        load_document(text, **kwargs)
    return [(i.field, i.line, i.message) for i in info.value.issues]


def billion_laughs(levels: int = 9, fan: int = 9) -> str:
    lines = ["a0: &a0 [lol]"]
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * fan) + "]")
    return "\n".join(lines) + "\n"


def test_every_key_and_item_knows_its_line():
    doc = load_document("name: x\nrules:\n  - tool: a\n    effect: allow\n  - tool: b\n")
    assert doc.line(("rules", 1, "tool")) == 5
    assert doc.line(("rules", 0, "effect")) == 4
    assert doc.line(("rules", 0, "when", "amount")) == 3  # missing: the closest enclosing value


def test_a_key_written_twice_is_refused_with_its_line():
    assert issues_of("a: 1\nb:\n  c: 1\n  c: 2\n") == [("b.c", 4, "duplicate key 'c'")]


def test_an_alias_bomb_is_refused_before_it_expands():
    (field, line, message), = issues_of(billion_laughs())
    assert "more than 10000 values" in message


def test_aliases_past_the_limit_are_refused():
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 101) + "]\n"
    assert "more than 100 aliases" in issues_of(text)[0][2]


def test_a_few_aliases_and_merge_keys_still_work():
    doc = load_document("base: &base {currency: EUR, max: 10}\nsend: {<<: *base, max: 20}\nalso: *base\n")
    assert doc.data["send"] == {"currency": "EUR", "max": 20}
    assert doc.data["also"] == {"currency": "EUR", "max": 10}


def test_an_alias_inside_its_own_anchor_is_refused():
    assert "refers to the value that contains it" in issues_of("a: &a [1, *a]\n")[0][2]


@pytest.mark.parametrize("text", ["a: " + "[" * 1000 + "]" * 1000, "a:\n" + "".join("  " * i + "- \n" for i in range(1, 200))])
def test_deep_nesting_is_refused_without_recursion_errors(text):
    assert "nested deeper than 64 levels" in issues_of(text)[0][2]


def test_nesting_built_from_aliases_counts_too():
    lines = ["l0: &l0 " + "[" * 40 + "]" * 40]
    lines += [f"l{n}: &l{n} " + "[" * 30 + f"*l{n - 1}" + "]" * 30 for n in range(1, 3)]
    assert "counting what aliases repeat" in issues_of("\n".join(lines))[0][2]


def test_a_document_over_the_size_limit_is_refused():
    assert "the limit is 100" in issues_of("a: " + "x" * 200, limits=Limits(max_chars=100))[0][2]


@pytest.mark.parametrize("tag", ["!!python/name:os.system", "!!python/object/apply:os.system", "!!binary", "!!set",
                                 "!!timestamp", "!custom"])
def test_tags_beyond_json_data_are_refused_naming_the_field(tag):
    field, line, message = issues_of(f"x: 1\nrun: {tag} ls\n")[0]
    assert (field, line) == ("run", 2) and "is not allowed" in message


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", ".NaN", "1.0e+400"])
def test_numbers_must_be_finite(value):
    assert issues_of(f"rules:\n  - maximum: {value}\n") == [
        ("rules[0].maximum", 2, "numbers must be finite (.inf, .nan and values beyond 1e308 are not allowed)")
    ]


@pytest.mark.parametrize("value", ["9" * 20, "-" + "9" * 5000])
def test_integers_are_limited_to_64_bits(value):
    assert issues_of(f"n: {value}\n")[0][::2] == ("n", "integers are limited to 64 bits")


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\ud800"])
def test_control_characters_and_lone_surrogates_are_refused_with_their_line(char):
    (field, line, message), = issues_of(f"a: 1\nb: x{char}y\n")
    assert line == 2 and "is not allowed in a document" in message


def test_keys_are_text_as_written_and_dates_stay_text():
    doc = load_document("on: 1\nyes: 2\n3: 4\nwhen: 2024-01-02\n")
    assert doc.data == {"on": 1, "yes": 2, "3": 4, "when": "2024-01-02"}


def test_syntax_errors_name_their_line_with_the_callers_wording():
    (field, line, message), = issues_of("a: 1\nb: [\n", syntax="invalid YAML")
    assert line == 3 and message.startswith("invalid YAML: ")


def test_the_digest_ignores_layout_and_comments():
    one = load_document("# c\nb: [1, 2]\na: {x: y}\n").data
    two = load_document('{"a": {"x": "y"}, "b": [1, 2]}').data
    assert content_digest(plain(one)) == content_digest(plain(two))
    assert content_digest(plain(one)) != content_digest({"a": {"x": "z"}, "b": [1, 2]})


def test_the_compile_cache_compiles_each_digest_once_and_evicts_the_oldest():
    calls = []
    cache = CompileCache(lambda source: calls.append(source) or source.upper(), size=2)
    assert cache.get(digest="d1", source="a") == "A"
    assert cache.get(digest="d1", source="a") == "A"
    cache.get(digest="d2", source="b")
    cache.get(digest="d3", source="c")
    assert calls == ["a", "b", "c"]
    assert cache.peek("d1") is None and cache.peek("d3") == "C"


def test_a_catastrophic_pattern_runs_in_linear_time():
    assert compile_pattern(r"^(a+)+$").search("a" * 50_000 + "b") is None
    assert compile_pattern(r"^(a|aa)+$").search("a" * 50_000) is not None


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)b", r"(?<!a)b", "(", "x" * 2001, 7])
def test_patterns_re2_cannot_run_are_refused(pattern):
    with pytest.raises(PatternError):
        compile_pattern(pattern)
