"""Finding a survivor's personal identifiers in page text by keyed hashes."""

from __future__ import annotations

import io
import json
import os
import pickle
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haven.cli import main
from haven.scan import (
    FetchPolicy,
    ListSink,
    PersonalIdentifier,
    ScanCommand,
    SiteSearch,
    TextBank,
    TextBankError,
    UrlList,
    mask,
    normalise,
    page_text,
    romanise,
    run_scan_command,
    scan,
)

from .site import TestSite

JIEUN = [
    PersonalIdentifier("1", "c1", "name", "김지은"),
    PersonalIdentifier("2", "c1", "place", "한빛고등학교\n한빛고"),
    PersonalIdentifier("3", "c1", "phone", "010-1234-5678"),
    PersonalIdentifier("4", "c1", "email", "jieun.kim@example.com"),
    PersonalIdentifier("5", "c1", "handle", "@jieun_k02"),
    PersonalIdentifier("6", "c1", "keyword", "전 여친 사진 유출 모음"),
]
SOYEON = [
    PersonalIdentifier("7", "c2", "name", "Park Soyeon"),
    PersonalIdentifier("8", "c2", "place", "Seoul Arts High School"),
]


@pytest.fixture(scope="module")
def bank() -> TextBank:
    return TextBank.build(JIEUN + SOYEON)


def cases(bank: TextBank, text: str) -> set[str]:
    return {m.case_id for m in bank.match(text)}


def test_normalise_folds_width_case_accents_lookalikes_and_spacing() -> None:
    assert normalise("Kim Ji-eun") == "kimjieun"
    assert normalise("ＫＩＭ　ｊｉ ＥＵＮ") == "kimjieun"
    assert normalise("Kím Jí\u200beun") == "kimjieun"  # an accent and a zero-width space
    assert normalise("Кim") == "kim"  # a Cyrillic К
    assert normalise("김 지 은") == "김지은"
    assert normalise("ㄱㅣㅁㅈㅣㅇㅡㄴ") == "김지은"  # spelled out in separate jamo
    assert normalise("ㄱ ㅣ ㅁ ㅈ ㅣ ㅇ ㅡ ㄴ") == "김지은"


def test_romanise_follows_the_revised_romanisation() -> None:
    assert romanise("김지은") == "gimjieun"
    assert romanise("박서연") == "bakseoyeon"
    assert romanise("한빛") == "hanbit"


@pytest.mark.parametrize(
    "text",
    [
        "김지은 한빛고등학교 다니는 애",
        "김 지은이 한빛고 다녀요",  # spacing, a particle, the school's short form
        "Kim Jieun from 한빛고등학교",  # her name romanised
        "JIEUN KIM — 한빛 고등학교",  # given name first
        "Jee-eun Kim 한빛고",  # another common spelling
        "ㄱㅣㅁㅈㅣㅇㅡㄴ 한빛고",  # jamo spelled out
        "k i m j i e u n, 한 빛 고",  # letters spaced out
    ],
)
def test_a_name_and_her_school_together_raise_her_case(bank: TextBank, text: str) -> None:
    assert cases(bank, text) == {"c1"}


@pytest.mark.parametrize(
    "text",
    [
        "연락처 010-1234-5678",
        "010 1234 5678",
        "01012345678",
        "+82 10 1234 5678",
        "+82-10-1234-5678",
        "(010) 1234.5678",
        "공일공-일이삼사-오육칠팔",  # in Korean digit words
        "O1O-1234-5678",  # letters standing in for digits
        "０１０－１２３４－５６７８",  # full-width
        "jieun.kim@example.com",
        "JIEUN.KIM@EXAMPLE.COM",
        "jieun.kim [at] example [dot] com",
        "jieun.kim at example dot com",
        "jieun.kim 골뱅이 example 점 com",
        "insta: @jieun_k02",
        "전여친 사진유출 모음 ㅋㅋ",  # a post title, spaced differently
    ],
)
def test_an_identifier_that_is_enough_alone_raises_her_case(bank: TextBank, text: str) -> None:
    assert cases(bank, text) == {"c1"}


@pytest.mark.parametrize(
    "text",
    [
        "김지은",  # a name alone: many people share it
        "김지은 010-9876-5432",  # her name with another number
        "한빛고등학교 졸업식",  # the school alone
        "김지현 한빛고등학교",  # another given name, same surname, her school
        "010-1234-5679",  # one digit off
        "jieun.kim@example.org",  # another domain
        "kim jieunah 한빛중학교",
        "Park Soyeon",  # the other case's name alone
        "Soyeon Park went to Seoul Arts Middle School",
        "the 2010 1234 5678 numbers",
    ],
)
def test_decoys_raise_nothing(bank: TextBank, text: str) -> None:
    assert cases(bank, text) == set()


def test_a_masked_number_counts_only_with_something_else(bank: TextBank) -> None:
    assert cases(bank, "010-xxxx-5678") == set()
    assert cases(bank, "010-****-5678 김지은") == {"c1"}
    assert cases(bank, "010-1234-xxxx 김지은") == {"c1"}


def test_each_case_is_matched_on_its_own_rule(bank: TextBank) -> None:
    assert cases(bank, "Soyeon Park, Seoul Arts High School; 010 1234 5678") == {"c1", "c2"}
    one = TextBank.build(SOYEON, key=bank.key, min_kinds={"c2": 1})
    assert cases(one, "Park Soyeon") == {"c2"}
    alone = TextBank.build([PersonalIdentifier("9", "c3", "name", "Park Soyeon", alone=True)])
    assert cases(alone, "soyeon park") == {"c3"}


def test_a_long_title_matches_when_most_of_it_is_there() -> None:
    title = "my ex girlfriend from busan leaked pictures part two full set"
    bank = TextBank.build([PersonalIdentifier("1", "c", "keyword", title)])
    assert cases(bank, "LEAKED: my ex-girlfriend from Busan, leaked pictures part two!!") == {"c"}
    assert cases(bank, "pictures part two of a holiday") == set()


def test_the_match_says_where_and_the_snippet_masks_her_identifiers(bank: TextBank) -> None:
    text = "오늘 올라온 글 — 김지은 (한빛고) 번호 010-1234-5678 이라고 함. 끝."
    [m] = bank.match(text)
    assert m.case_id == "c1"
    assert set(m.kinds) == {"name", "place", "phone"}
    assert {text[a:b] for a, b in m.spans} == {"김지은", "한빛고", "010-1234-5678"}
    snippet, spans = m.snippet
    masked = mask(snippet, spans)
    assert "김지은" not in masked
    assert "010-1234-5678" not in masked
    assert "한빛고" not in masked
    assert masked.startswith("오늘 올라온 글")
    assert "번호" in masked


def test_mask_merges_overlaps_and_ignores_spans_outside() -> None:
    assert mask("abcdef", [(0, 3), (2, 4), (10, 12)], hidden="#") == "#ef"


def test_the_bank_holds_no_identifier_in_readable_form(bank: TextBank, tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    bank.write(path)
    # The keys and hashes are hex; what is left around them must hold none of her words or digits.
    body = re.sub(r"[0-9a-f]{32,64}", "", path.read_text(encoding="utf-8").lower())
    for secret in ("김지은", "jieun", "1234", "5678", "example", "한빛", "soyeon", "park"):
        assert secret not in body
    assert os.stat(path).st_mode & 0o077 == 0
    again = TextBank.read(path)
    assert cases(again, "010 1234 5678") == {"c1"}
    assert cases(pickle.loads(pickle.dumps(bank)), "jieun.kim@example.com") == {"c1"}


def test_two_banks_of_the_same_identifiers_share_no_hash() -> None:
    a, b = TextBank.build(JIEUN), TextBank.build(JIEUN)
    keys = lambda bank: {k for e in bank.entries for v in e.variants for k in v.keys}  # noqa: E731
    assert not keys(a) & keys(b)


@pytest.mark.parametrize(
    ("identifier", "message"),
    [
        (PersonalIdentifier("1", "c", "phone", "not a number"), "not a phone number"),
        (PersonalIdentifier("1", "c", "phone", "010-12"), "not a valid phone number"),
        (PersonalIdentifier("1", "c", "email", "jieun at nowhere"), "not an e-mail address"),
        (PersonalIdentifier("1", "c", "name", "  \n "), "empty"),
        (PersonalIdentifier("1", "c", "name", "!!!"), "no letters or digits"),
        (PersonalIdentifier("1", "c", "name", "x" * 65), "longer than 64"),
        (PersonalIdentifier("1", "c", "shoe size", "38"), "unknown kind"),
    ],
)
def test_unusable_identifiers_are_refused_with_a_reason(identifier: PersonalIdentifier, message: str) -> None:
    with pytest.raises(TextBankError, match=message):
        TextBank.build([identifier])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("not json\n", "not JSON Lines"),
        ('{"format": "something else"}\n', "not a text bank"),
        ('{"format": "haven-text-bank", "version": 1, "key": "zz"}\n', "malformed"),
        ('{"format": "haven-text-bank", "version": 1, "key": "00"}\n', "at least 16 bytes"),
        (
            '{"format": "haven-text-bank", "version": 1, "key": "' + "ab" * 32 + '"}\n'
            '{"id": "1", "case": "c", "kind": "name", "alone": false, '
            '"variants": [{"keys": ["abcd"], "need": 1}]}\n',
            "32 hex digits",
        ),
        (
            '{"format": "haven-text-bank", "version": 1, "key": "' + "ab" * 32 + '"}\n'
            '{"id": "1", "case": "c", "kind": "name", "alone": false, "variants": [{"keys": ["'
            + "ab" * 16
            + '"], "need": 2}]}\n',
            "need must be",
        ),
        (
            '{"format": "haven-text-bank", "version": 1, "key": "' + "ab" * 32 + '"}\n[1, 2]\n',
            "not a JSON object",
        ),
    ],
)
def test_a_broken_bank_file_is_refused_with_a_reason(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bank.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TextBankError, match=message):
        TextBank.read(path)


def test_page_text_reads_what_a_reader_sees() -> None:
    html = (
        "<html><head><title>김지은 사진</title><style>.x{}</style><script>var jieun='x'</script>"
        '<meta name="description" content="한빛고"></head><body><p>본문</p>'
        '<img src="a.jpg" alt="캡션"><noscript>hidden</noscript></body></html>'
    )
    text = page_text(html)
    assert "김지은 사진" in text
    assert "본문" in text
    assert "캡션" in text
    assert "var jieun" not in text
    assert ".x{}" not in text
    assert page_text(b"\xff\xfe not utf-8 <p>ok</p>").endswith("ok")


def test_a_huge_page_is_read_up_to_the_limit(bank: TextBank) -> None:
    text = "word " * 400_000 + "010-1234-5678"
    assert bank.match(text) == []  # past the limit: not read, and no error


def test_a_scan_finds_her_identifiers_on_pages_and_says_where(
    site: TestSite, policy: FetchPolicy, bank: TextBank
) -> None:
    hit = site.put(
        "/text/post-1", "<html><body><h1>유출</h1><p>김지은 한빛고 010-1234-5678</p></body></html>"
    )
    miss = site.put("/text/post-2", "<html><body><p>김지은 생일 축하해</p></body></html>")
    sink = ListSink()
    texts: list[object] = []
    sink.add_text = texts.append  # type: ignore[attr-defined]
    report = scan([UrlList([hit, miss])], None, sink=sink, options=_options(policy), text_bank=bank)
    assert [(c.page_url, c.case_id, set(c.kinds)) for c in report.text_candidates] == [
        (hit, "c1", {"name", "place", "phone"})
    ]
    assert texts == report.text_candidates
    assert report.stats.text_pages == 2
    assert report.stats.text_candidates == 1
    record = report.text_candidates[0].as_record()
    assert record["type"] == "text"
    assert "010-1234-5678" not in json.dumps(record, ensure_ascii=False)
    assert len(record["text_sha256"]) == 64


def test_a_site_search_scans_the_results_and_never_names_the_query(
    site: TestSite, policy: FetchPolicy
) -> None:
    bank = TextBank.build([PersonalIdentifier("1", "c", "keyword", "비밀 제목 하나")])
    site.put(
        "/forum/search?q=%EB%B9%84%EB%B0%80+%EC%A0%9C%EB%AA%A9+%ED%95%98%EB%82%98&p=1",
        '<a href="/forum/post/9">result</a><a href="/forum/search?q=%EB%B9%84%EB%B0%80+%EC%A0%9C%EB%AA%A9'
        '+%ED%95%98%EB%82%98&p=2">next</a><a href="https://elsewhere.example/">away</a>',
    )
    post = site.put("/forum/post/9", "<title>비밀 제목 하나</title><p>본문</p>")
    source = SiteSearch(
        site.url("/forum/search?q={query}&p={page}"), ["비밀 제목 하나", "없는 말"], pages=3, delay_s=0
    )
    report = scan([source], None, options=_options(policy), text_bank=bank)
    assert [c.page_url for c in report.text_candidates] == [post]
    assert report.stats.pages == 1  # the result pages only lead to the posts
    for error in report.errors:  # the second query finds no page: reported without the query
        assert "%EB" not in error.url + error.message
        assert "없는" not in error.url + error.message
    assert report.errors


def test_site_search_refuses_a_template_without_a_query() -> None:
    with pytest.raises(ValueError, match="query"):
        SiteSearch("https://forum.example/search", ["x"])


def test_haven_text_bank_and_haven_scan_find_her_on_a_site(
    site: TestSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = site.put("/text/cli", "<p>contact jieun.kim@example.com</p>")
    identifiers = tmp_path / "ids.jsonl"
    identifiers.write_text(
        '{"case": "c1", "kind": "email", "value": "jieun.kim@example.com"}\n'
        '{"case": "c1", "kind": "phone", "value": "010-1234-5678"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "bank.jsonl"
    assert main(["text-bank", str(identifiers), "-o", str(out)]) == 0
    assert "jieun" not in out.read_text(encoding="utf-8")
    stdout, stderr = io.StringIO(), io.StringIO()
    command = ScanCommand(sources=[url], text_bank=str(out), allow_loopback=True)
    assert run_scan_command(command, stdout, stderr) == 0
    [line] = stdout.getvalue().splitlines()
    record = json.loads(line)
    assert record["type"] == "text"
    assert record["page_url"] == url
    assert record["kinds"] == ["email"]
    assert "jieun" not in line
    assert "text candidates" in stderr.getvalue()


def test_haven_text_bank_refuses_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    identifiers = tmp_path / "ids.jsonl"
    identifiers.write_text('{"case": "c1", "kind": "phone", "value": "12"}\n', encoding="utf-8")
    assert main(["text-bank", str(identifiers), "-o", str(tmp_path / "b")]) == 2
    assert "phone number" in capsys.readouterr().err
    identifiers.write_text('{"case": "c1"}\n', encoding="utf-8")
    assert main(["text-bank", str(identifiers), "-o", str(tmp_path / "b")]) == 2
    assert "line 1" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_haven_scan_refuses_a_search_without_queries_and_a_bad_bank(tmp_path: Path) -> None:
    stderr = io.StringIO()
    assert (
        run_scan_command(ScanCommand(sources=["search:https://x.example/?q={query}"]), io.StringIO(), stderr)
        == 2
    )
    assert "--query" in stderr.getvalue()
    bad = tmp_path / "bank.jsonl"
    bad.write_text("{}", encoding="utf-8")
    stderr = io.StringIO()
    assert (
        run_scan_command(
            ScanCommand(sources=["https://x.example/"], text_bank=str(bad)), io.StringIO(), stderr
        )
        == 2
    )
    assert "not a text bank" in stderr.getvalue()


def _options(policy: FetchPolicy) -> object:
    from haven.scan import ScanOptions

    return ScanOptions(policy=policy)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=400))
def test_any_text_is_matched_without_error_and_spans_lie_inside_it(text: str) -> None:
    bank = _FUZZ_BANK
    for m in bank.match(text):
        for a, b in m.spans:
            assert 0 <= a < b <= len(text)
    assert normalise(text) == normalise(text)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("<>/=\"' abcdpimgscriptalt김지은0123456789-&;#x")), max_size=300)
)
def test_any_markup_gives_page_text_without_error(html: str) -> None:
    assert isinstance(page_text(html), str)


def test_a_planted_phone_is_found_whatever_text_surrounds_it() -> None:
    @settings(max_examples=200, deadline=None)
    @given(
        st.text(alphabet=st.sampled_from(list("가나다라 abc.,!?\n")), max_size=80),
        st.sampled_from(["010-1357-2468", "010 1357 2468", "+82 10 1357 2468", "01013572468"]),
    )
    def check(around: str, number: str) -> None:
        assert {m.case_id for m in _FUZZ_BANK.match(f"{around} {number} {around}")} == {"f"}

    check()


_FUZZ_BANK = TextBank.build(
    [
        PersonalIdentifier("1", "f", "phone", "010-1357-2468"),
        PersonalIdentifier("2", "f", "name", "김지은"),
        PersonalIdentifier("3", "f", "email", "a.b@example.com"),
        PersonalIdentifier("4", "f", "keyword", "one two three four five six seven eight"),
    ]
)


@pytest.mark.parametrize(
    "text",
    [
        "번호는 이 010-일이삼사-오육칠팔 이라고",  # digit words next to a syllable that is also a digit
        "010–1234–5678",  # en dashes
        "010ㅡ1234ㅡ5678",  # the Hangul vowel drawn as a dash
        "010♡1234♡5678",
        "jieun.kim 골뱅이 example닷컴",  # "dot com" said in Korean
    ],
)
def test_more_ways_of_writing_her_number_and_address(bank: TextBank, text: str) -> None:
    assert cases(bank, text) == {"c1"}


def test_a_school_is_also_found_by_its_usual_short_name() -> None:
    bank = TextBank.build(
        [
            PersonalIdentifier("1", "c", "name", "이하늘"),
            PersonalIdentifier("2", "c", "place", "새솔여자고등학교"),
            PersonalIdentifier("3", "d", "name", "Mia Chen"),
            PersonalIdentifier("4", "d", "place", "Lakeside High School"),
        ]
    )
    assert cases(bank, "이하늘 새솔여고 3학년") == {"c"}
    assert cases(bank, "Mia Chen, Lakeside High, class of 2024") == {"d"}


def test_a_reworded_title_matches_with_a_word_dropped_or_two_swapped_and_only_in_order() -> None:
    bank = TextBank.build(
        [
            PersonalIdentifier("1", "c", "keyword", "Haeundae flight attendant girl part 5"),
            PersonalIdentifier("2", "d", "keyword", "my ex from Busan album 5"),
            PersonalIdentifier("3", "e", "keyword", "카페 알바생 사진 공유합니다"),
        ]
    )
    assert cases(bank, "Haeundae flight attendant girl part 5") == {"c"}
    assert cases(bank, "[펌] Haeundae attendant girl part 5 ㅋㅋ") == {"c"}  # one word dropped
    assert cases(bank, "Haeundae flight girl attendant part 5") == {"c"}  # two neighbours swapped
    assert cases(bank, "flight attendant girl from Haeundae, part 5") == set()  # out of order
    assert cases(bank, "My ex from Gangnam sent me this album, so weird.") == set()
    assert cases(bank, "카페 알바생 사진을 공유합니다") == {"e"}  # with a particle
    assert cases(bank, "신촌 카페 알바생 구해요. 사진 공유합니다") == set()
    far = "Haeundae beach, part one. " + "Nothing else here at all. " * 40 + "A flight attendant, a girl."
    assert cases(bank, far) == set()


def test_a_title_that_is_another_cases_title_minus_a_word_raises_only_that_case() -> None:
    bank = TextBank.build(
        [
            PersonalIdentifier("1", "a", "keyword", "신촌 카페 알바생 사진 공유합니다"),
            PersonalIdentifier("2", "b", "keyword", "대구 카페 알바생 사진 공유합니다"),
        ]
    )
    assert cases(bank, "[펌] 대구 카페 알바생 사진 공유합니다") == {"b"}
    assert cases(bank, "카페 알바생 사진 공유합니다") == {"a", "b"}  # either: the reviewer decides


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("박세희", "Se-hee Park"),
        ("박소연", "PARK So-yun"),
        ("김혜경", "KIM HYE KYUNG"),
        ("송지윤", "Song Jee Yoon"),
        ("김하린", "Kim Ha Lin"),
        ("이지영", "Lee Ji-young"),
        ("추지현", "Ji-hyeon Choo"),
        ("남궁민", "Min Namkoong"),
        ("김하린", "김ㅤ하린"),  # a Hangul filler inside
        ("김혜진", "Hae-jin Kim"),
        ("이예은", "YI Yeh-eun"),
    ],
)
def test_korean_names_as_people_spell_them(name: str, written: str) -> None:
    bank = TextBank.build(
        [PersonalIdentifier("1", "c", "name", name), PersonalIdentifier("2", "c", "place", "한빛고")]
    )
    assert cases(bank, f"{written} 한빛고") == {"c"}


def test_a_handle_with_dots_or_underscores_is_enough_alone_only_as_written() -> None:
    bank = TextBank.build(
        [
            PersonalIdentifier("1", "f", "handle", "nayeon.kim"),
            PersonalIdentifier("2", "g", "handle", "@madison_f"),
        ]
    )
    assert cases(bank, "instagram.com/nayeon.kim") == {"f"}
    assert cases(bank, "ｎａｙｅｏｎ．ｋｉｍ") == {"f"}
    assert cases(bank, "@MADISON_F posted again") == {"g"}
    assert cases(bank, "Nayeon Kim 본인이래요") == set()  # a name in a sentence
    assert cases(bank, "M a d i s o n  F l e t c h e r") == set()


@pytest.mark.parametrize(
    "text",
    [
        "email her at jieun.kim@example.com",
        "jieun.kim [@] example.com",
        "jieun.kim(@)example.com",
        "번호는 010_1234_5678이래",
        "번호는 공일공-일이삼사-오육칠팔이래",
        "번호는 0l0 l234 5678이래",
        "0I0 1234 5678",
        "메일은 jieun.kim 골뱅이 example 점 com이래",  # a particle glued to the domain
    ],
)
def test_addresses_and_numbers_next_to_words_that_look_like_part_of_them(bank: TextBank, text: str) -> None:
    assert cases(bank, text) == {"c1"}


def test_schools_short_names_in_english_too() -> None:
    bank = TextBank.build(
        [
            PersonalIdentifier("1", "c", "name", "Amy Ross"),
            PersonalIdentifier("2", "c", "place", "Ashford High School"),
        ]
    )
    assert cases(bank, "Amy Ross (Ashford HS)") == {"c"}


def test_one_piece_of_text_read_as_two_kinds_counts_once() -> None:
    bank = TextBank.build(
        [
            PersonalIdentifier("1", "a", "name", "Chloe Fisher"),
            PersonalIdentifier("2", "a", "handle", "chloe_fisher"),
            PersonalIdentifier("3", "a", "place", "Ashford High School"),
        ]
    )
    assert cases(bank, "Chloe Fisher") == set()  # her name, also her handle without its underscore
    assert cases(bank, "Chloe Fisher, Ashford HS") == {"a"}
    assert cases(bank, "@chloe_fisher") == {"a"}
