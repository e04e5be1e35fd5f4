"""Does a text scan find a survivor's identifiers in their varied spellings, without raising decoys?

And how fast is it next to an image scan of the same pages?

``--cases`` synthetic survivors (a fifth of them with English names, the rest Korean) each
have a name, a mobile number, an e-mail address, a handle, a school or workplace and the
title of a post that carried her pictures; a text bank (``TextBank.build``) holds them.  A
local site on 127.0.0.1 (aiohttp, in its own process) serves ``--pages`` forum and blog
pages in Korean and English, made of filler sentences from word lists, listed by a sitemap
index.  Every page exists twice: ``/p/N.html`` (text only) and ``/q/N.html`` (the same
text with one small picture).

* 10 % of the pages are *planted*: each carries one case's identifiers in a combination the
  rule raises (phone alone, e-mail alone, a long handle alone, the title alone, name +
  school, name + handle, school + a short handle).  Each identifier is written in a
  *class* of spelling (see ``CLASSES``): as recorded, spacing changed, Korean particles
  attached, romanised, full-width, digit words, international format, odd separators,
  disguised e-mail, letters spaced out, zero-width characters, look-alike letters, jamo
  spelled out, the school abbreviated, a title re-punctuated or reworded ...  On each
  page one identifier takes the class planted least so far among those that fit the case
  (so that every class is planted about as often), the others a class drawn at random
  among those that fit their kind.  The overall recall is therefore that of a mix where
  every class is about as common, not a forecast for real pages: read it per class.
* 30 % carry a *decoy* for one case, which must raise nothing: her surname with another
  given name + her school, her name alone, her school alone, her name at another school,
  a phone number one digit off, her e-mail's local part at another domain, a handle one
  character off, another person's full details, or her given name and her title's words
  as common words.
* the rest is filler.

Measured: recall of planted pages (a candidate for the right case) per class and overall,
identifiers found per class (each planted sentence matched alone against the same
identifiers with every kind enough on its own: which spellings the matcher reads),
false candidates (a page raised for a case it holds no plant of), and pages/s of the text
scan, of an image scan of the picture pages (an image bank of one picture per case, 1 %
of the pictures a re-encoded copy of one) and of both at once.  The peer is what a
centre would otherwise do: a case-insensitive substring search for each identifier
exactly as recorded, with the same rule, on the same page text.

    python benchmarks/bench_text_scan.py                  # 5,000 pages, 50 cases
    python benchmarks/bench_text_scan.py --quick          # 500 pages

Prints Markdown tables and writes JSON to benchmarks/results/text_scan.json.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import asyncio
import html
import io
import json
import multiprocessing
import platform
import random
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import phonenumbers
from PIL import Image, ImageDraw

from haven.scan import (
    BankEntry,
    BankSnapshot,
    FetchPolicy,
    PersonalIdentifier,
    ScanOptions,
    ScanReport,
    Sitemap,
    TextBank,
    default_alone,
    page_text,
    scan,
)
from haven.signals import md5, robust_signals

RESULTS = Path(__file__).resolve().parent / "results" / "text_scan.json"
SITEMAP_SIZE = 1000
PLANT_FRACTION = 0.10
DECOY_FRACTION = 0.30
IMAGE_PLANT_EVERY = 100  # 1 % of the picture pages show a copy of a bank picture
PICTURE_SIZE = (320, 240)


def words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split(sep))


# -- names ----------------------------------------------------------------------------------------

# Korean surnames with rough frequencies (% of the population), the spelling most people use
# in Latin letters, and other spellings in common use.
SURNAMES: tuple[tuple[str, float, str, tuple[str, ...]], ...] = (
    ("김", 21.5, "Kim", ("Gim",)), ("이", 14.7, "Lee", ("Yi", "Rhee", "Rhie")),
    ("박", 8.4, "Park", ("Pak", "Bak")), ("최", 4.7, "Choi", ("Choe",)),
    ("정", 4.3, "Jung", ("Jeong", "Chung")), ("강", 2.3, "Kang", ()), ("조", 2.1, "Cho", ("Jo",)),
    ("윤", 2.1, "Yoon", ("Yun",)), ("장", 2.0, "Jang", ("Chang",)), ("임", 1.7, "Lim", ("Im", "Yim")),
    ("한", 1.5, "Han", ()), ("오", 1.5, "Oh", ()), ("서", 1.5, "Seo", ("Suh",)),
    ("신", 1.4, "Shin", ("Sin",)), ("권", 1.4, "Kwon", ()), ("황", 1.4, "Hwang", ()),
    ("안", 1.3, "Ahn", ("An",)), ("송", 1.3, "Song", ()), ("전", 1.1, "Jeon", ("Jun", "Chun")),
    ("홍", 1.1, "Hong", ()), ("유", 1.1, "Yoo", ("Yu",)), ("고", 0.9, "Ko", ("Koh",)),
    ("문", 0.9, "Moon", ("Mun",)), ("양", 0.9, "Yang", ()), ("손", 0.9, "Son", ("Sohn",)),
    ("배", 0.8, "Bae", ("Pae",)), ("백", 0.8, "Baek", ("Paik", "Paek")), ("허", 0.6, "Heo", ("Huh", "Hur")),
    ("남", 0.6, "Nam", ()), ("심", 0.5, "Shim", ("Sim",)), ("노", 0.4, "Noh", ("Roh",)),
    ("하", 0.4, "Ha", ()), ("곽", 0.4, "Kwak", ()), ("성", 0.4, "Sung", ("Seong",)),
    ("차", 0.4, "Cha", ()), ("주", 0.4, "Joo", ("Ju",)), ("우", 0.4, "Woo", ()),
    ("구", 0.4, "Koo", ("Gu", "Ku")), ("민", 0.3, "Min", ()), ("류", 0.3, "Ryu", ("Yoo", "Ryoo")),
    ("나", 0.3, "Na", ("Ra",)), ("진", 0.3, "Jin", ("Chin",)), ("지", 0.3, "Ji", ("Jee",)),
    ("엄", 0.3, "Eom", ("Um", "Uhm")), ("채", 0.3, "Chae", ()), ("원", 0.3, "Won", ()),
    ("천", 0.2, "Cheon", ("Chun",)), ("방", 0.2, "Bang", ()), ("공", 0.2, "Gong", ("Kong",)),
    ("현", 0.2, "Hyun", ("Hyeon",)), ("함", 0.2, "Ham", ()), ("변", 0.2, "Byun", ("Byeon",)),
    ("염", 0.1, "Yeom", ("Yum",)), ("여", 0.1, "Yeo", ("Yuh",)), ("추", 0.1, "Choo", ("Chu",)),
    ("도", 0.1, "Do", ("Doh",)), ("석", 0.1, "Seok", ("Suk",)), ("선", 0.1, "Sun", ("Seon",)),
    ("설", 0.1, "Seol", ("Sul",)), ("길", 0.1, "Gil", ("Kil",)), ("남궁", 0.05, "Namgung", ("Namkoong",)),
    ("황보", 0.03, "Hwangbo", ()),
)  # fmt: skip

# Syllables of given names: Revised Romanisation, and other spellings people use for them.
SYLLABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "지": ("ji", ("jee",)), "은": ("eun", ()), "서": ("seo", ("suh",)), "연": ("yeon", ("yun", "youn")),
    "민": ("min", ()), "수": ("su", ("soo",)), "빈": ("bin", ("been",)), "하": ("ha", ()),
    "예": ("ye", ("yeh",)), "린": ("rin", ("lin",)), "유": ("yu", ("yoo",)), "진": ("jin", ()),
    "혜": ("hye", ("hae",)), "원": ("won", ()), "정": ("jeong", ("jung",)), "영": ("yeong", ("young",)),
    "희": ("hui", ("hee",)), "미": ("mi", ()), "경": ("gyeong", ("kyung", "kyeong")),
    "윤": ("yun", ("yoon",)), "아": ("a", ("ah",)), "나": ("na", ()), "소": ("so", ()), "다": ("da", ()),
    "채": ("chae", ()), "선": ("seon", ("sun",)), "화": ("hwa", ()), "주": ("ju", ("joo",)),
    "현": ("hyeon", ("hyun",)), "보": ("bo", ()), "람": ("ram", ()), "슬": ("seul", ()),
    "기": ("gi", ("ki",)), "효": ("hyo", ()), "세": ("se", ()), "시": ("si", ("shi",)),
    "가": ("ga", ("ka",)), "인": ("in", ()), "름": ("reum", ()), "비": ("bi", ()), "숙": ("suk", ("sook",)),
    "순": ("sun", ("soon",)), "재": ("jae", ()), "성": ("seong", ("sung",)), "태": ("tae", ()),
}  # fmt: skip
GIVEN_NAMES = words(
    "지은 서연 민지 수빈 하은 예린 유진 혜원 은정 영희 미경 지윤 서현 민서 예은 지현 수연 은지 하윤 소연 "
    "다은 채원 지민 수진 현정 혜진 선영 미영 정아 주희 윤아 가은 보람 슬기 효진 세은 아름 나연 소희 은비 "
    "유나 지수 민경 서윤 예진 수아 하린 지아 윤서 현아 은서 혜인 민주 경희 순영 성희 세희 진아 소민 채은 "
    "나은 다인 보은 시은 연희 현주 은영 지영 혜경 선희 재희 태희 정민 수정 정은 숙희"
)
EN_FIRST = words(
    "Emily Sarah Jessica Hannah Olivia Grace Chloe Rachel Megan Lauren Sophie Anna Claire Natalie Amy "
    "Rebecca Laura Katie Abigail Madison Julia Victoria Alice Lucy Holly Bethany Naomi Leah Erin Molly"
)
EN_LAST = words(
    "Carter Mitchell Brooks Hughes Bennett Foster Hayes Morgan Reed Coleman Walsh Palmer Russell Ward "
    "Fisher Harper Lawson Barnes Griffin Porter Sullivan Fletcher Dawson Holland Spencer Marsh Kendall"
)

# -- places -----------------------------------------------------------------------------------------

KO_PLACE_PREFIX = words(
    "한빛 새솔 푸른숲 은빛 가온 누리 다온 해오름 으뜸 한누리 늘푸른 청운 한결 새별 별빛 미리내 하늘빛 솔빛 "
    "빛가람 단비 한솔 새봄 샛별 다솜 라온 온누리 나래 청솔 은하 동명 서림 대원 신흥 금강 백양 송림 경원 "
    "명덕 진성 보성 세광 덕원 상록 해솔 꿈빛 청람 수리"
)
# (full name suffix, abbreviations people write, is a school)
KO_PLACE_TYPES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("고등학교", ("고",), True),
    ("여자고등학교", ("여고",), True),
    ("중학교", ("중",), True),
    ("여자중학교", ("여중",), True),
    ("대학교", ("대",), True),
    ("정보고등학교", ("정보고",), True),
    ("치과", (), False),
    ("약국", (), False),
    ("어린이집", (), False),
    ("영어학원", (), False),
    ("전자", (), False),
    ("물산", (), False),
    ("베이커리", (), False),
    ("헤어", (), False),
)
EN_PLACE_PREFIX = words(
    "Riverside Hillcrest Maple Grove Oakwood Lakeview Westfield Brookside Cedar Ridge Fairview Kingsley "
    "Ashford Pinecrest Northgate Willow Creek Stonebridge Harbour Point Elmwood Redwood"
)
EN_PLACE_TYPES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("High School", ("High", "HS"), True),
    ("International School", ("International", "Intl"), True),
    ("Academy", (), True),
    ("Dental Clinic", (), False),
    ("Coffee", (), False),
    ("Language Institute", (), False),
)

# -- filler -----------------------------------------------------------------------------------------

KO_TIME = words(
    "오늘/어제/주말에/퇴근하고/학교 끝나고/점심시간에/아침에/저녁에/방학 동안/지난주에/연휴에/새벽에", "/"
)
KO_WITH = words(
    "친구랑/동생이랑/엄마랑/혼자/동료들이랑/남친이랑/여친이랑/동아리 사람들이랑/사촌이랑/가족들이랑", "/"
)
KO_PLACES = words(
    "카페 도서관 한강공원 영화관 노래방 마트 시장 편의점 헬스장 식당 서점 PC방 놀이공원 바닷가 미술관"
)
KO_FOOD = words(
    "떡볶이 치킨 라면 김밥 삼겹살 마라탕 파스타 초밥 냉면 비빔밥 순대 피자 햄버거 짜장면 국밥 돈가스"
)
KO_DID = ("밥 먹었는데", "영화 봤는데", "산책했는데", "쇼핑했는데", "공부했는데", "사진 찍었는데",
          "운동했는데", "커피 마셨는데", "구경했는데", "수다 떨었는데")  # fmt: skip
KO_EVAL = ("진짜 맛있었어요", "생각보다 별로였어요", "사람이 너무 많았어요", "분위기가 좋았어요",
           "가격이 좀 비쌌어요", "다음에 또 가고 싶어요", "완전 추천합니다", "그냥 그랬어요",
           "줄이 엄청 길었어요", "시간 가는 줄 몰랐어요", "날씨가 좋아서 다행이었어요")  # fmt: skip
KO_AREA = ("강남", "홍대", "신촌", "잠실", "성수", "연남동", "해운대", "서면", "동성로", "수원역", "일산",
           "분당", "판교", "인천", "둔산동", "충장로", "전주", "제주", "대구", "광주")  # fmt: skip
KO_THING = words("노트북 이어폰 운동화 패딩 가방 향수 선크림 키보드 모니터 텀블러 우산 자전거 책상 의자")
KO_FEEL = words("피곤해요/스트레스 받아요/설레요/우울해요/행복해요/정신없어요/심심해요/배고파요", "/")
KO_TOPIC = words("시험 과제 이사 알바 취업 다이어트 연애 자취 면접 야근 여행 계획 수강신청")
KO_COMMENTS = ("ㅋㅋㅋㅋ 공감", "저도요", "ㄹㅇ", "오 감사합니다", "정보 감사해요!", "와 대박",
               "헐 진짜요?", "저도 가봤는데 괜찮았어요", "ㅠㅠ 힘내세요", "좋은 정보네요", "ㅇㅈ",
               "추천 누르고 갑니다", "어디서 사셨어요?", "가격 알 수 있을까요?", "맞아요 거기 유명해요",
               "다음엔 저도 가볼게요")  # fmt: skip
KO_MENU = words("홈 자유게시판 유머 질문답변 정보 사진 중고장터 공지사항 로그인 회원가입")
KO_SITES = words("수다방 우리동네 톡톡광장 모여라 일상공유 소소한이야기")

EN_TIME = ("Yesterday", "Last weekend", "This morning", "After work", "On Sunday", "Last night",
           "During the holidays", "Earlier today")  # fmt: skip
EN_WITH = ("my sister", "a couple of friends", "my mum", "my roommate", "coworkers", "my cousin",
           "my boyfriend", "my girlfriend", "the study group")  # fmt: skip
EN_PLACES = ("cafe", "library", "park by the river", "cinema", "karaoke place", "night market",
             "bookshop", "gym", "food court", "museum", "beach", "mall")  # fmt: skip
EN_FOOD = words(
    "tteokbokki/fried chicken/ramen/kimbap/barbecue/noodles/sushi/pizza/burgers/dumplings/cake", "/"
)
EN_EVAL = ("was honestly great", "was a bit overrated", "was way too crowded", "had a nice vibe",
           "was pricier than expected", "is worth a second visit", "was just okay", "blew my mind",
           "had a queue around the block")  # fmt: skip
EN_AREA = ("Gangnam", "Hongdae", "Itaewon", "Sinchon", "Jamsil", "Seongsu", "Haeundae", "Busan",
           "Incheon", "downtown", "the old town", "Daegu")  # fmt: skip
EN_THING = words("laptop headphones sneakers backpack perfume sunscreen keyboard monitor umbrella bike desk")
EN_THING_EVAL = ("works fine", "broke after a week", "was totally worth it", "feels a bit cheap",
                 "arrived scratched", "is better than the old one")  # fmt: skip
EN_FEEL = words("tired stressed excited down happy overwhelmed bored hungry")
EN_TOPIC = words("exams/assignments/moving house/part-time work/job hunting/dieting/dating/interviews", "/")
EN_COMMENTS = ("lol same", "thanks for sharing", "this is so true", "wait really?", "where did you get it?",
               "been there, loved it", "hang in there", "great tip", "adding this to my list", "+1",
               "how much was it?", "nice!", "saving this", "agreed 100%")  # fmt: skip
EN_MENU = words("Home Forum Humour Q&A Tips Photos Marketplace Notices Login Register")
EN_SITES = ("CityTalk", "The Lounge", "Everyday Board", "Hangout", "Campus Corner", "Expat Chat")

ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff")
CYRILLIC = {
    "a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і", "j": "ј", "s": "ѕ",
    "A": "А", "E": "Е", "O": "О", "P": "Р", "C": "С", "K": "К", "M": "М", "H": "Н", "T": "Т", "B": "В",
}  # fmt: skip
KO_DIGIT_WORDS = ("공", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구")
_LEADS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_TAILS = ("", "ㄱ", "ㄲ", "ㄳ", "ㄴ", "ㄵ", "ㄶ", "ㄷ", "ㄹ", "ㄺ", "ㄻ", "ㄼ", "ㄽ", "ㄾ", "ㄿ", "ㅀ", "ㅁ",
          "ㅂ", "ㅄ", "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ")  # fmt: skip

# The classes of spelling, and which kinds they are drawn for.
CLASSES: dict[str, str] = {
    "exact": "as recorded",
    "spacing": "spaces added or removed (김 지은, 010 1234 5678, 01012345678, 한빛 고등학교)",
    "particle": "Korean particles attached (김지은이, 한빛고등학교에서); English possessive",
    "romanised RR": "Korean name in Revised Romanisation, usual surname spelling, either order (Kim Ji-eun)",
    "romanised popular": "Korean name as people spell it (Young, Hee, Yoon, Kyung, Hyun; Yi, Chung, Um ...)",
    "surname first": "English name surname first (Carter, Emily)",
    "case": "letter case changed",
    "full-width": "full-width letters and digits (０１０, ｊｉｅｕｎ)",
    "digit words": "digits as Korean words (공일공, 영일영), whole or in part",
    "international": "+82 format (+82 10-..., +821..., 82-10-..., +82 (0)10 ...)",
    "odd separators": "phone groups split by / ~ – ♡ ㅡ _ · or (010)",
    "e-mail disguise": "[at] [dot], at/dot, (at), [@], 골뱅이/점, 닷컴, spaces around @",
    "handle @/URL": "@ added or dropped, or in a profile URL (instagram.com/..., x.com/..., tiktok.com/@...)",
    "spaced letters": "letters separated by dots, spaces, dashes, slashes (김.지.은, E m i l y)",
    "zero-width": "zero-width space/joiners, word joiner, soft hyphen or BOM inside",
    "look-alikes": "Cyrillic letters for Latin ones; O for 0, l or I for 1",
    "jamo": "Hangul spelled out in jamo (ㄱㅣㅁㅈㅣㅇㅡㄴ), whole or in part",
    "abbreviation": "school name abbreviated (한빛고, 한빛여고, Riverside High)",
    "punctuation": "title with brackets, quotes, !!, emoji, tags",
    "reworded": "title with two words swapped or one word dropped",
}


def classes_for(kind: str, case: Case) -> list[str]:
    ko = case.lang == "ko"
    if kind == "name":
        if ko:
            out = ["exact", "spacing", "particle", "romanised RR", "zero-width", "jamo", "spaced letters"]
            if popular_spellings(case) != [rr_given(case.given)]:
                out.append("romanised popular")
            return out
        return ["exact", "case", "spacing", "particle", "surname first", "full-width", "spaced letters",
                "zero-width", "look-alikes"]  # fmt: skip
    if kind == "phone":
        return ["exact", "spacing", "full-width", "digit words", "international", "odd separators",
                "zero-width", "look-alikes"]  # fmt: skip
    if kind == "email":
        return ["exact", "case", "full-width", "e-mail disguise", "zero-width", "look-alikes"]
    if kind == "handle":
        return ["exact", "case", "full-width", "handle @/URL", "zero-width", "look-alikes"]
    if kind == "place":
        out = ["exact", "spacing", "zero-width"] + (["particle"] if ko else ["case", "full-width"])
        return out + (["abbreviation"] if case.place_abbrevs else [])
    out = ["exact", "spacing", "punctuation", "reworded", "zero-width"]
    if not ko:
        out.append("case")
    if re.search(r"[A-Za-z0-9]", case.title):
        out.append("full-width")
    return out


# -- cases --------------------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    lang: str
    name: str
    surname: str
    given: str
    phone: str  # 11 digits, 010...
    email: str
    handle: str  # as recorded (with or without @)
    place: str
    place_abbrevs: tuple[str, ...]
    title: str

    def identifiers(self) -> list[PersonalIdentifier]:
        phone = f"{self.phone[:3]}-{self.phone[3:7]}-{self.phone[7:]}"
        values = {
            "name": self.name,
            "phone": phone,
            "email": self.email,
            "handle": self.handle,
            "place": self.place,
            "keyword": self.title,
        }
        return [PersonalIdentifier(f"{self.id}-{k}", self.id, k, v) for k, v in values.items()]

    def recorded(self, kind: str) -> str:
        return next(i.value for i in self.identifiers() if i.kind == kind)


def has_final(ch: str) -> bool:
    o = ord(ch)
    if 0xAC00 <= o <= 0xD7A3:
        return (o - 0xAC00) % 28 != 0
    return ch.lower() not in "aeiouy"


def final_is_rieul(ch: str) -> bool:
    o = ord(ch)
    return 0xAC00 <= o <= 0xD7A3 and (o - 0xAC00) % 28 == 8


def josa(word: str, with_final: str, without_final: str) -> str:
    last = word.rstrip()[-1]
    if with_final == "으로":
        return word + ("으로" if has_final(last) and not final_is_rieul(last) else "로")
    return word + (with_final if has_final(last) else without_final)


def rr_given(given: str) -> str:
    return "-".join(SYLLABLES[c][0] for c in given).capitalize()


def popular_spellings(case: Case) -> list[str]:
    """Given-name spellings with at least one syllable in a popular (non-RR) spelling."""
    options = [(SYLLABLES[c][0], *SYLLABLES[c][1]) for c in case.given]
    out = []
    for a in options[0]:
        for b in options[1]:
            out.append(f"{a}-{b}".capitalize())
    return out[1:] or [rr_given(case.given)]


def surname_spellings(surname: str) -> tuple[str, tuple[str, ...]]:
    for s, _w, usual, others in SURNAMES:
        if s == surname:
            return usual, others
    raise KeyError(surname)


def make_phone(rng: random.Random, taken: set[str]) -> str:
    while True:
        phone = f"010{rng.randint(2, 9)}{rng.randint(0, 999):03d}{rng.randint(0, 9999):04d}"
        # Only numbers in the ranges the numbering plan assigns (a bank refuses the others).
        if phone not in taken and phonenumbers.is_valid_number(phonenumbers.parse(phone, "KR")):
            taken.add(phone)
            return phone


def compact(text: str) -> str:
    return re.sub(r"[^0-9a-z가-힣]", "", text.lower())


def korean_title(rng: random.Random, place_short: str, school: bool) -> str:
    templates = (
        "{p} {g}학년 {n} 사진 모음" if school else "{p} 직원 {n} 사진 모음",
        "{a} {j} 일상 사진 {k}탄",
        "{p} {n} 인스타 사진 정리본 {k}탄 올립니다",
        "{a} 카페 알바생 사진 공유합니다",
        "{s} {e} 때 찍힌 {n} 사진들",
        "전 여친 {a} 여행 사진 {k}탄 풉니다 댓글 환영",
        "{p} 다니는 {n} 얼굴 사진 유출",
        "{a} {j} 몰래 찍은 사진 {k}탄",
    )
    return rng.choice(templates).format(
        p=place_short,
        g=rng.randint(1, 3),
        n=rng.choice(("여신", "얼짱", "반장", "신입생", "전학생", "댄스부", "치어리더", "모델")),
        a=rng.choice(KO_AREA),
        j=rng.choice(("간호사", "승무원", "교사", "직장인", "필라테스 강사", "대학생", "미용사")),
        k=rng.randint(2, 9),
        s=rng.choice(("봄", "여름", "가을", "겨울")),
        e=rng.choice(("축제", "수학여행", "졸업식", "체육대회", "MT", "엠티")),
    )


def english_title(rng: random.Random, place_short: str) -> str:
    templates = (
        "{a} {j} girl pics part {k}",
        "leaked pics of the {p} {r}",
        "my ex from {a} album {k}",
        "{adj} girl at {p} full set",
        "{p} {r} photos dump vol {k} comments open",
        "that {adj} {j} from {a} more pics",
    )
    return rng.choice(templates).format(
        a=rng.choice(EN_AREA).replace("the ", "").title(),
        j=rng.choice(("nurse", "barista", "teacher", "flight attendant", "yoga instructor", "student")),
        k=rng.randint(2, 9),
        p=place_short,
        r=rng.choice(("cheerleader", "prefect", "new girl", "class rep", "dancer")),
        adj=rng.choice(("cute", "hot", "pretty", "blonde", "tall")),
    )


def make_handle(rng: random.Random, first: str, last: str, words: tuple[str, ...]) -> str:
    first, last = first.lower().replace("-", ""), last.lower()
    yy = f"{rng.randint(90, 109) % 100:02d}"
    patterns = (
        f"{first}_{last[0]}",
        f"{first}.{last}",
        f"{last}_{first}{yy}",
        f"{rng.choice(words)}_{first}",
        f"{first}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
        f"{rng.choice(words)}.{rng.choice(words)}",
        f"{first}__{rng.choice(words)}",
        f"{first}{'n' if first[-1] != 'n' else ''}ie",
        f"{rng.choice(words)}{first}",
    )
    return rng.choice(patterns)


HANDLE_WORDS = (
    "sunny",
    "daily",
    "moon",
    "peach",
    "cherry",
    "blue",
    "mint",
    "cloud",
    "happy",
    "star",
    "hello",
)


def make_email(rng: random.Random, first: str, last: str, handle: str, domains: tuple[str, ...]) -> str:
    first, last = first.lower().replace("-", ""), last.lower()
    bare = compact(handle)
    while True:
        local = rng.choice(
            (
                f"{first}{last}{rng.randint(80, 99)}",
                f"{last}.{first}",
                f"{first}.{last}{rng.randint(1, 99)}",
                f"{rng.choice(HANDLE_WORDS)}{first}{rng.randint(100, 999)}",
                f"{last}{first}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
                f"{first[0]}{last}{rng.randint(1, 9999)}",
            )
        )
        # Her e-mail's local part is not her handle: the decoy "local part at another
        # domain" must test the e-mail alone.
        if bare not in compact(local):
            return f"{local}@{rng.choice(domains)}"


def make_cases(n: int, rng: random.Random) -> tuple[list[Case], list[tuple[str, tuple[str, ...]]]]:
    """The cases, and the places no case has (for decoys)."""
    n_en = max(1, n // 5) if n >= 5 else 0
    weights = [w for _s, w, _u, _o in SURNAMES]
    ko_places = [(p + t, tuple(p + a for a in ab)) for p in KO_PLACE_PREFIX for t, ab, _s in KO_PLACE_TYPES]
    en_places = [
        (f"{p} {t}", tuple(f"{p} {a}" for a in ab)) for p in EN_PLACE_PREFIX for t, ab, _s in EN_PLACE_TYPES
    ]
    rng.shuffle(ko_places)
    rng.shuffle(en_places)
    phones: set[str] = set()
    names: set[str] = set()
    titles: list[str] = []
    cases = []
    for k in range(n):
        lang = "en" if k >= n - n_en else "ko"
        while True:
            if lang == "ko":
                surname = rng.choices([s for s, *_ in SURNAMES], weights)[0]
                given = rng.choice(GIVEN_NAMES)
                name = surname + given
            else:
                surname, given = rng.choice(EN_LAST), rng.choice(EN_FIRST)
                name = f"{given} {surname}"
            if name not in names:
                names.add(name)
                break
        place, abbrevs = (ko_places if lang == "ko" else en_places).pop()
        short = abbrevs[0] if abbrevs else place.split()[0]
        if lang == "ko":
            first = "".join(SYLLABLES[c][0] for c in given)
            last = surname_spellings(surname)[0]
            domains = (
                ("naver.com",) * 4 + ("gmail.com",) * 3 + ("daum.net", "hanmail.net", "kakao.com", "nate.com")
            )
        else:
            first, last = given, surname
            domains = ("gmail.com",) * 4 + ("outlook.com", "yahoo.com", "icloud.com", "hotmail.com")
        handle = make_handle(rng, first, last, HANDLE_WORDS)
        if rng.random() < 0.4:
            handle = "@" + handle
        email = make_email(rng, first, last, handle, domains)
        while True:
            korean = lang == "ko" and rng.random() < 0.7
            title = korean_title(rng, short, bool(abbrevs)) if korean else english_title(rng, short)
            t = compact(title)
            if all(t not in o and o not in t for o in titles):
                titles.append(t)
                break
        phone = make_phone(rng, phones)
        cases.append(
            Case(f"case-{k:03d}", lang, name, surname, given, phone, email, handle, place, abbrevs, title)
        )
    spare = ko_places + en_places
    return cases, spare


# -- spellings --------------------------------------------------------------------------------------------


def insert_zero_width(text: str, rng: random.Random) -> str:
    chars = list(text)
    if len(chars) < 2:
        return text + rng.choice(ZERO_WIDTH)
    if rng.random() < 0.3:  # between every character
        z = rng.choice(ZERO_WIDTH)
        return z.join(chars)
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(1, len(chars) - 1)
        chars.insert(at, rng.choice(ZERO_WIDTH))
    return "".join(chars)


def full_width(text: str) -> str:
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def look_alike(text: str, rng: random.Random) -> str:
    spots = [i for i, c in enumerate(text) if c in CYRILLIC]
    if not spots:
        return text
    chars = list(text)
    for i in rng.sample(spots, min(len(spots), rng.randint(1, 3))):
        chars[i] = CYRILLIC[chars[i]]
    return "".join(chars)


def jamo(word: str) -> str:
    out = []
    for ch in word:
        o = ord(ch) - 0xAC00
        if 0 <= o <= 0xD7A3 - 0xAC00:
            out.append(_LEADS[o // 588] + _VOWELS[(o % 588) // 28] + _TAILS[o % 28])
        else:
            out.append(ch)
    return "".join(out)


def spell_name(case: Case, cls: str, rng: random.Random) -> str:
    if case.lang == "ko":
        s, g = case.surname, case.given
        if cls == "exact":
            return case.name
        if cls == "spacing":
            return rng.choice((f"{s} {g}", f"{s}{g[0]} {g[1:]}", " ".join(case.name), f"{s}  {g}"))
        if cls == "particle":
            return rng.choice(
                (
                    josa(case.name, "이", "가"),
                    josa(case.name, "은", "는"),
                    case.name + "의",
                    case.name + "씨",
                    josa(case.name, "이랑", "랑"),
                    case.name + "한테",
                    josa(case.name, "을", "를"),
                )
            )
        if cls in ("romanised RR", "romanised popular"):
            usual, others = surname_spellings(s)
            if cls == "romanised RR":
                given, family = rr_given(g), usual
            else:
                given = rng.choice(popular_spellings(case))
                family = rng.choice((usual, *others)) if others and rng.random() < 0.5 else usual
            forms = (
                f"{family} {given}",
                f"{given} {family}",
                f"{family.upper()} {given}",
                f"{family} {given.replace('-', '').capitalize()}",
                f"{given.replace('-', '').capitalize()} {family}",
                f"{family} {given.replace('-', ' ')}".upper(),
                f"{family} {given.replace('-', '')}".lower(),
                f"{family} {' '.join(p.capitalize() for p in given.split('-'))}",
            )
            return rng.choice(forms)
        if cls == "zero-width":
            return insert_zero_width(case.name, rng)
        if cls == "jamo":
            return rng.choice(
                (
                    jamo(case.name),
                    " ".join(jamo(case.name)),
                    " ".join(jamo(c) for c in case.name),
                    s + jamo(g),
                )
            )
        if cls == "spaced letters":
            sep = rng.choice((".", "-", "/", " . ", "*", "_", "♡"))
            return sep.join(case.name)
        raise ValueError(cls)
    first, last = case.given, case.surname
    if cls == "exact":
        return case.name
    if cls == "case":
        return rng.choice((case.name.upper(), case.name.lower()))
    if cls == "spacing":
        return rng.choice((f"{first}{last}", f"{first}   {last}"))
    if cls == "particle":
        return rng.choice((f"{case.name}'s", f"{case.name}’s", josa(case.name, "이", "가")))
    if cls == "surname first":
        return rng.choice((f"{last}, {first}", f"{last.upper()} {first}", f"{last} {first}"))
    if cls == "full-width":
        return full_width(case.name)
    if cls == "spaced letters":
        return rng.choice(
            (
                f"{'.'.join(first)} {'.'.join(last)}",
                f"{' '.join(first)}  {' '.join(last)}",
                f"{'-'.join(first)} {last}",
            )
        )
    if cls == "zero-width":
        return insert_zero_width(case.name, rng)
    if cls == "look-alikes":
        return look_alike(case.name, rng)
    raise ValueError(cls)


def spell_phone(digits: str, cls: str, rng: random.Random) -> str:
    a, b, c = digits[:3], digits[3:7], digits[7:]
    if cls == "exact":
        return f"{a}-{b}-{c}"
    if cls == "spacing":
        return rng.choice((f"{a} {b} {c}", digits, f"{a}.{b}.{c}", f"{a} - {b} - {c}", " ".join(digits)))
    if cls == "full-width":
        return full_width(rng.choice((f"{a}-{b}-{c}", f"{a} {b} {c}", digits)))
    if cls == "digit words":
        zero = rng.choice(("공", "공", "영"))

        def words(group: str) -> str:
            return "".join(zero if d == "0" else KO_DIGIT_WORDS[int(d)] for d in group)

        return rng.choice(
            (
                f"{words(a)} {words(b)} {words(c)}",
                f"{words(a)}-{words(b)}-{words(c)}",
                f"{words(a)}{words(b)}{words(c)}",
                f"{words(a)}-{b}-{c}",
                f"{a}-{words(b)}-{words(c)}",
            )
        )
    if cls == "international":
        return rng.choice(
            (
                f"+82 {a[1:]}-{b}-{c}",
                f"+82-{a[1:]}-{b}-{c}",
                f"+82{digits[1:]}",
                f"+82 (0){a[1:]} {b} {c}",
                f"82-{a[1:]}-{b}-{c}",
            )
        )
    if cls == "odd separators":
        sep = rng.choice(("/", "~", "–", "♡", "ㅡ", "_", "·"))
        if rng.random() < 0.2:
            return rng.choice((f"({a}) {b}-{c}", f"{a}){b}-{c}"))
        return f"{a}{sep}{b}{sep}{c}"
    if cls == "zero-width":
        return insert_zero_width(f"{a}-{b}-{c}", rng)
    if cls == "look-alikes":
        text = rng.choice((f"{a}-{b}-{c}", f"{a} {b} {c}"))
        chars = list(text)
        spots = [i for i, ch in enumerate(chars) if ch in "01"]
        for i in rng.sample(spots, min(len(spots), rng.randint(1, 3))):
            chars[i] = rng.choice(("O", "o")) if chars[i] == "0" else rng.choice(("l", "l", "I"))
        return "".join(chars)
    raise ValueError(cls)


def spell_email(email: str, cls: str, rng: random.Random) -> str:
    local, domain = email.split("@")
    host, _dot, tld = domain.rpartition(".")
    if cls == "exact":
        return email
    if cls == "case":
        return rng.choice((email.upper(), f"{local.capitalize()}@{domain.capitalize()}"))
    if cls == "full-width":
        return full_width(email)
    if cls == "e-mail disguise":
        return rng.choice(
            (
                f"{local} [at] {host} [dot] {tld}",
                f"{local} at {host} dot {tld}",
                f"{local}(at){domain}",
                f"{local} [@] {domain}",
                f"{local} 골뱅이 {host} 점 {tld}",
                f"{local} @ {domain}",
                f"{local} 골뱅이 {host}닷컴" if tld == "com" else f"{local} 골뱅이 {domain}",
                f"{local}{{at}}{host}{{dot}}{tld}",
            )
        )
    if cls == "zero-width":
        return insert_zero_width(email, rng)
    if cls == "look-alikes":
        return look_alike(email, rng)
    raise ValueError(cls)


def spell_handle(handle: str, cls: str, rng: random.Random) -> str:
    bare = handle.lstrip("@")
    if cls == "exact":
        return handle
    if cls == "case":
        return rng.choice((handle.upper(), "".join(c.upper() if rng.random() < 0.3 else c for c in handle)))
    if cls == "full-width":
        return full_width(handle)
    if cls == "handle @/URL":
        return rng.choice(
            (
                bare if handle.startswith("@") else "@" + bare,
                f"instagram.com/{bare}",
                f"https://www.instagram.com/{bare}/",
                f"https://x.com/{bare}",
                f"tiktok.com/@{bare}",
            )
        )
    if cls == "zero-width":
        return insert_zero_width(handle, rng)
    if cls == "look-alikes":
        return look_alike(handle, rng)
    raise ValueError(cls)


def spell_place(case: Case, cls: str, rng: random.Random) -> str:
    place = case.place
    if cls == "exact":
        return place
    if cls == "case":
        return rng.choice((place.upper(), place.lower()))
    if cls == "full-width":
        return full_width(place)
    if cls == "spacing":
        if case.lang == "ko":
            cut = next((len(p) for p in KO_PLACE_PREFIX if place.startswith(p)), 2)
            return rng.choice((place[:cut] + " " + place[cut:], place[:1] + " " + place[1:], " ".join(place)))
        return rng.choice((place.replace(" ", ""), place.replace(" ", "  ", 1)))
    if cls == "particle":
        return rng.choice(
            (place + "에", place + "에서", place + "의", josa(place, "으로", "로"), josa(place, "이", "가"))
        )
    if cls == "zero-width":
        return insert_zero_width(place, rng)
    if cls == "abbreviation":
        return rng.choice(case.place_abbrevs)
    raise ValueError(cls)


def spell_title(title: str, cls: str, rng: random.Random) -> str:
    words = title.split()
    if cls == "exact":
        return title
    if cls == "case":
        return rng.choice((title.upper(), title.title(), title.capitalize()))
    if cls == "full-width":
        return full_width(title)
    if cls == "spacing":
        k = rng.randrange(len(words) - 1)
        if rng.random() < 0.5:  # two words run together
            return " ".join([*words[:k], words[k] + words[k + 1], *words[k + 2 :]])
        long = [i for i, w in enumerate(words) if len(w) >= 3]
        if long:  # a word split
            i = rng.choice(long)
            w = words[i]
            cut = rng.randint(1, len(w) - 1)
            return " ".join([*words[:i], w[:cut], w[cut:], *words[i + 1 :]])
        return "  ".join(words)
    if cls == "punctuation":
        choice = rng.randrange(5)
        if choice == 0:
            return f"[{words[0]}] " + " ".join(words[1:])
        if choice == 1:
            return f'"{title}"!!'
        if choice == 2:
            return rng.choice(("[펌] ", "(재업) ", "RE: ", "[공유] ")) + title
        if choice == 3:
            return title + rng.choice((" ㅋㅋㅋ", "...", " 🔥🔥", "?!", " ~~"))
        k = rng.randrange(len(words) - 1)
        return " ".join(words[: k + 1]) + rng.choice((", ", " / ", " - ", " | ")) + " ".join(words[k + 1 :])
    if cls == "reworded":
        if rng.random() < 0.5 and len(words) >= 4:
            drop = rng.randrange(len(words))
            return " ".join(words[:drop] + words[drop + 1 :])
        k = rng.randrange(len(words) - 1)
        words[k], words[k + 1] = words[k + 1], words[k]
        return " ".join(words)
    if cls == "zero-width":
        return insert_zero_width(title, rng)
    raise ValueError(cls)


def spell(case: Case, kind: str, cls: str, rng: random.Random) -> str:
    if kind == "name":
        return spell_name(case, cls, rng)
    if kind == "phone":
        return spell_phone(case.phone, cls, rng)
    if kind == "email":
        return spell_email(case.email, cls, rng)
    if kind == "handle":
        return spell_handle(case.handle, cls, rng)
    if kind == "place":
        return spell_place(case, cls, rng)
    return spell_title(case.title, cls, rng)


# -- sentences ---------------------------------------------------------------------------------------------

KO_SAY: dict[str, tuple[str, ...]] = {
    "name": ("{X} 알아?", "이거 {X} 맞지?", "{X} 사진 맞음", "얘 {X} 아님?", "{X} 본인이래요",
             "혹시 {X} 아는 사람"),
    "phone": ("연락처 {X}", "번호 {X} 래요", "{X}로 연락 주세요", "전번 {X} 이거 맞음?", "번호는 {X}이래",
              "폰번호: {X}", "{X} 이 번호로 문자 왔어요"),
    "email": ("메일 {X}", "이메일: {X}", "{X} 로 보내주세요", "{X} 이 메일 주소 본인 거래요"),
    "handle": ("인스타 {X}", "인스타 계정 {X}", "{X} 이 계정 맞음", "트위터 {X}", "계정 {X} 임"),
    "place": ("{X} 다니는 애래", "{X} 2학년이라던데", "{X} 근처에서 찍었대", "직장이 {X} 이라는데",
              "{X} 맞음"),
    "keyword": ("원글 제목 {X}", "'{X}' 이 글 봤어요?", "{X} 올라왔던데", "제목: {X}"),
}  # fmt: skip
EN_SAY: dict[str, tuple[str, ...]] = {
    "name": ("Is that {X}?", "pretty sure this is {X}", "{X} from school", "anyone know {X}?",
             "that's {X} lol"),
    "phone": ("Her number is {X}.", "call {X}", "{X} (text only)", "number: {X}"),
    "email": ("contact: {X}", "email her at {X}", "{X} is her address"),
    "handle": ("her insta is {X}", "IG: {X}", "found her account {X}", "follow {X} lol"),
    "place": ("she goes to {X}", "works at {X}", "{X} student btw", "she's from {X}"),
    "keyword": ('original post: "{X}"', "thread was called {X}", "reposting {X}"),
}  # fmt: skip


def ko_sentence(rng: random.Random) -> str:
    k = rng.randrange(20)
    place, area, food, thing = (
        rng.choice(KO_PLACES),
        rng.choice(KO_AREA),
        rng.choice(KO_FOOD),
        rng.choice(KO_THING),
    )
    if k < 3:
        return (
            f"{rng.choice(KO_TIME)} {rng.choice(KO_WITH)} {area} {place}에 가서 "
            f"{rng.choice(KO_DID)} {rng.choice(KO_EVAL)}."
        )
    return (
        f"혹시 {area} 근처에 괜찮은 {place} 아시는 분 있나요?",
        f"{josa(thing, '은', '는')} {rng.randint(2, 40) * 1000:,}원 주고 샀는데 {rng.choice(KO_EVAL)}.",
        f"요즘 {rng.choice(KO_TOPIC)} 때문에 너무 {rng.choice(KO_FEEL)}.",
        f"{area} {food} 맛집 추천 좀 해주세요.",
        f"{rng.randint(1, 12)}월 {rng.randint(1, 28)}일에 {area}에서 행사 있대요.",
        f"다들 {rng.choice(KO_TOPIC)} 준비는 잘 되고 있나요? 저는 아직 시작도 못 했어요.",
        f"{food} 먹고 싶은데 {rng.choice(KO_WITH)} 갈 사람 구해요.",
        f"입금은 신한 110-{rng.randint(100, 999)}-{rng.randint(100000, 999999)} 으로 부탁드려요.",
        f"오늘 날씨 {rng.choice(('좋네요', '흐리네요', '덥네요', '춥네요'))} 다들 {rng.choice(KO_FEEL)}?",
        f"지은 지 {rng.randint(10, 40)}년 된 아파트라 겨울에 좀 추워요.",
        f"집 근처에 새로 생긴 {place} 가봤는데 {rng.choice(KO_EVAL)}.",
        f"{area} 쪽은 주차가 너무 힘들어요. 차라리 지하철 타세요.",
        f"다음 달부터 월세가 {rng.randint(3, 20)}만 원 오른대요. 이사 가야 하나 고민이에요.",
        f"아이가 {josa(thing, '을', '를')} 사달라고 졸라서 고민이에요.",
        f"민원 넣었는데 {rng.randint(2, 9)}일째 답이 없네요.",
        f"회사 사람이 준 {thing} 아직도 잘 써요.",
        f"{food} 먹으러 갈 사람? 선착순 {rng.randint(2, 6)}명이요.",
    )[k - 3]


def en_sentence(rng: random.Random) -> str:
    k = rng.randrange(16)
    place, area, food, thing = (
        rng.choice(EN_PLACES),
        rng.choice(EN_AREA),
        rng.choice(EN_FOOD),
        rng.choice(EN_THING),
    )
    if k < 3:
        return (
            f"{rng.choice(EN_TIME)} I went to the {place} in {area} with "
            f"{rng.choice(EN_WITH)} and the {food} {rng.choice(EN_EVAL)}."
        )
    return (
        f"Does anyone know a decent {place} near {area}?",
        f"Bought new {thing} for ${rng.randint(15, 400)} and it {rng.choice(EN_THING_EVAL)}.",
        f"Feeling so {rng.choice(EN_FEEL)} because of {rng.choice(EN_TOPIC)} lately.",
        f"Any recommendations for {food} around {area}?",
        f"There's a street fair on {rng.randint(1, 28)}/{rng.randint(1, 12)} near {area}.",
        f"Order #{rng.randint(10**9, 10**10 - 1)} hasn't shipped, {rng.randint(2, 9)} more days they say.",
        f"Anyone up for {food} with {rng.choice(EN_WITH)} this weekend?",
        f"Weather's {rng.choice(('lovely', 'grim', 'so humid', 'freezing'))} today, how is everyone doing?",
        f"My landlord is putting the rent up by {rng.randint(50, 300)} a month, thinking of moving.",
        f"The grace period for the {rng.choice(EN_TOPIC)} forms ends on Friday.",
        f"Is the {place} in {area} open on Sundays?",
        f"Parking near {area} is a nightmare, take the subway.",
        f"The holly bushes outside the {place} are looking great this year.",
    )[k - 3]


def post_title(rng: random.Random, lang: str) -> str:
    if lang == "ko":
        return rng.choice(
            (
                f"{rng.choice(KO_AREA)} {rng.choice(KO_PLACES)} 후기",
                f"{rng.choice(KO_FOOD)} 맛집 추천 좀",
                f"질문) {rng.choice(KO_THING)} 어떤가요?",
                f"{rng.choice(KO_TOPIC)} 관련 정보 공유",
                f"오늘 {rng.choice(KO_AREA)} 다녀왔어요",
            )
        )
    return rng.choice(
        (
            f"Review: the {rng.choice(EN_PLACES)} in {rng.choice(EN_AREA)}",
            f"Anyone tried the {rng.choice(EN_FOOD)} in {rng.choice(EN_AREA)}?",
            f"Question about my new {rng.choice(EN_THING)}",
            f"Tips for {rng.choice(EN_TOPIC)}",
            f"Day out in {rng.choice(EN_AREA)}",
        )
    )


def nick(rng: random.Random, lang: str) -> str:
    """A commenter's nickname; half of them end in digits."""
    if lang == "ko":
        name = rng.choice(("행복한", "졸린", "배고픈", "심심한", "용감한", "조용한", "")) + rng.choice(
            ("고양이", "다람쥐", "감자", "호랑이", "펭귄", "토끼", "꼬미", "하루")
        )
    else:
        name = rng.choice(("quiet", "lazy", "sunny", "night", "coffee", "rainy")) + rng.choice(
            ("_fox", "owl", "_bean", "cat", "_reader", "walker")
        )
    return name + str(rng.randint(1, 99)) if rng.random() < 0.5 else name


# -- pages -----------------------------------------------------------------------------------------------


@dataclass
class Plant:
    kind: str
    cls: str
    text: str  # the spelling written
    sentence: str  # the sentence it sits in, as a reader sees it


@dataclass
class PageSpec:
    lang: str
    title: str
    paragraphs: list[str]
    comments: list[tuple[str, str]]
    case: str | None = None  # planted for
    combo: str = ""
    plants: list[Plant] = field(default_factory=list)
    decoy: str | None = None
    decoy_case: str | None = None


IDENTIFIER_ORDER = ("name", "phone", "email", "handle", "place", "keyword")
COMBOS = (
    ("phone", ("phone",), 2.0),
    ("email", ("email",), 2.0),
    ("handle", ("handle",), 1.5),
    ("title", ("keyword",), 1.5),
    ("name + school", ("name", "place"), 3.0),
    ("name + handle", ("name", "handle"), 1.5),
    ("school + handle", ("place", "handle"), 1.0),
)
DECOYS = (
    "same surname, other given name + her school",
    "her name alone",
    "her school alone",
    "her name at another school",
    "phone one digit off",
    "e-mail local part at another domain",
    "handle one character off",
    "another person's full details",
    "common words",
)


def filler(rng: random.Random, lang: str, n: int) -> list[str]:
    make = ko_sentence if lang == "ko" else en_sentence
    return [make(rng) for _ in range(n)]


def say(rng: random.Random, lang: str, kind: str, text: str) -> str:
    return rng.choice((KO_SAY if lang == "ko" else EN_SAY)[kind]).replace("{X}", text)


def base_page(rng: random.Random, lang: str) -> PageSpec:
    paragraphs = []
    for _ in range(rng.randint(2, 4)):
        paragraphs.append(" ".join(filler(rng, lang, rng.randint(2, 4))))
    comments_pool = KO_COMMENTS if lang == "ko" else EN_COMMENTS
    comments = [(nick(rng, lang), rng.choice(comments_pool)) for _ in range(rng.randint(1, 6))]
    return PageSpec(lang, post_title(rng, lang), paragraphs, comments)


def place_sentence(page: PageSpec, rng: random.Random, sentence: str) -> None:
    """Into the post body (most often) or a comment."""
    if rng.random() < 0.75:
        k = rng.randrange(len(page.paragraphs))
        page.paragraphs.insert(k + rng.randint(0, 1), sentence)
    else:
        page.comments.insert(rng.randrange(len(page.comments) + 1), (nick(rng, page.lang), sentence))


def plant_page(
    page: PageSpec, case: Case, handle_alone: bool, counts: Counter[str], rng: random.Random
) -> None:
    """One case's identifiers in a combination the rule raises.  The class of one of them is
    the class planted least so far that fits the case (so every class gets a similar number
    of identifiers); the others' classes are drawn at random among those that fit."""
    combos = [
        (label, kinds, w)
        for label, kinds, w in COMBOS
        if not (label == "handle" and not handle_alone) and not (label == "school + handle" and handle_alone)
    ]
    fits = {
        cls: [
            k
            for k in IDENTIFIER_ORDER
            if any(k in ks for _l, ks, _w in combos) and cls in classes_for(k, case)
        ]
        for cls in CLASSES
    }
    fits = {cls: ks for cls, ks in fits.items() if ks}
    least = min(counts[cls] for cls in fits)
    target = rng.choice([cls for cls in fits if counts[cls] == least])
    kind = rng.choice(fits[target])
    combos = [c for c in combos if kind in c[1]]
    label, kinds, _w = rng.choices(combos, [w for *_x, w in combos])[0]
    page.case, page.combo = case.id, label
    for k in kinds:
        cls = target if k == kind else rng.choice(classes_for(k, case))
        counts[cls] += 1
        text = spell(case, k, cls, rng)
        if k == "keyword" and rng.random() < 0.5:
            page.title, sentence = text, text
        else:
            sentence = say(rng, page.lang, k, text)
            place_sentence(page, rng, sentence)
        page.plants.append(Plant(k, cls, text, sentence))


def one_digit_off(digits: str, rng: random.Random) -> str:
    i = rng.randrange(3, len(digits))
    d = rng.choice([x for x in "0123456789" if x != digits[i]])
    return digits[:i] + d + digits[i + 1 :]


def decoy_page(
    page: PageSpec,
    case: Case,
    kind: str,
    cases: list[Case],
    spare_places: list[tuple[str, tuple[str, ...]]],
    rng: random.Random,
) -> None:
    page.decoy, page.decoy_case = kind, case.id
    lang = page.lang
    names = {c.name for c in cases}
    lines: list[str] = []

    def other_name(surname: str) -> str:
        """Someone else: a name no case has."""
        while True:
            if case.lang == "ko":
                name = surname + rng.choice(GIVEN_NAMES)
            else:
                name = f"{rng.choice(EN_FIRST)} {surname}"
            if name not in names:
                return name

    def spare_place() -> str:
        same = [p for p, _a in spare_places if (case.lang == "ko") == bool(re.search("[가-힣]", p))]
        return rng.choice(same)

    if kind == "same surname, other given name + her school":
        lines = [say(rng, lang, "name", other_name(case.surname)), say(rng, lang, "place", case.place)]
    elif kind == "her name alone":
        cls = rng.choice([c for c in classes_for("name", case) if c not in ("zero-width",)])
        lines = [say(rng, lang, "name", spell_name(case, cls, rng))]
    elif kind == "her school alone":
        lines = [say(rng, lang, "place", case.place)]
        if lang == "ko":
            lines.append(f"{josa(case.place, '은', '는')} 올해 개교 {rng.randint(20, 80)}주년이래요.")
        else:
            lines.append(f"{case.place} is holding its open day next month.")
    elif kind == "her name at another school":
        lines = [say(rng, lang, "name", case.name), say(rng, lang, "place", spare_place())]
    elif kind == "phone one digit off":
        off = one_digit_off(case.phone, rng)
        lines = [say(rng, lang, "phone", spell_phone(off, rng.choice(("exact", "spacing")), rng))]
    elif kind == "e-mail local part at another domain":
        local, domain = case.email.split("@")
        other = rng.choice(
            [d for d in ("gmail.com", "naver.com", "daum.net", "outlook.com", "yahoo.com") if d != domain]
        )
        lines = [say(rng, lang, "email", f"{local}@{other}")]
    elif kind == "handle one character off":
        bare = case.handle.lstrip("@")
        k = rng.randrange(3)
        letters = [i for i, c in enumerate(bare) if c.isalpha()]
        i = rng.choice(letters)
        if k == 0:  # a digit added
            off = bare + rng.choice("0123456789")
        elif k == 1:  # a letter doubled
            off = bare[:i] + bare[i] + bare[i:]
        else:  # a letter changed
            off = bare[:i] + rng.choice([c for c in "aeiounst" if c != bare[i]]) + bare[i + 1 :]
        lines = [say(rng, lang, "handle", ("@" if rng.random() < 0.5 else "") + off)]
    elif kind == "another person's full details":
        lines = [
            say(
                rng,
                lang,
                "name",
                other_name(rng.choice([s for s, *_ in SURNAMES] if case.lang == "ko" else EN_LAST)),
            ),
            say(rng, lang, "phone", spell_phone(make_phone(rng, {c.phone for c in cases}), "exact", rng)),
            say(rng, lang, "email", f"{rng.choice(HANDLE_WORDS)}{rng.randint(1000, 9999)}@gmail.com"),
            say(
                rng,
                lang,
                "handle",
                f"@{rng.choice(HANDLE_WORDS)}_{rng.choice(HANDLE_WORDS)}{rng.randint(1, 99)}",
            ),
            say(rng, lang, "place", spare_place()),
        ]
    elif kind == "common words":  # her given name alone, her surname, her title's words apart
        words = case.title.split()
        rng.shuffle(words)
        half = len(words) // 2
        a, b = " ".join(words[:half]), " ".join(words[half:])
        if lang == "ko":
            first = josa(case.given, "이가", "가") if case.lang == "ko" else case.given
            lines = [
                f"{first} 그러는데 {a} 얘기는 다 지어낸 거래요.",
                f"{case.surname}씨네 가게 {rng.choice(KO_FOOD)} 맛있어요.",
                f"요즘 {b} 같은 글이 너무 많네요.",
            ]
        else:
            lines = [
                f"{case.given} said the {a} thing was made up.",
                f"The {case.surname} family runs the {rng.choice(EN_PLACES)} on the corner.",
                f"Why are there so many posts like {b} lately?",
            ]
    else:
        raise ValueError(kind)
    for line in lines:
        place_sentence(page, rng, line)


def render(page: PageSpec, i: int, site: str) -> str:
    e = html.escape
    ko = page.lang == "ko"
    menu = KO_MENU if ko else EN_MENU
    parts = [
        f'<!doctype html><html lang="{page.lang}"><head><meta charset="utf-8">',
        f"<title>{e(page.title)} - {e(site)}</title>",
        f'<meta name="description" content="{e(page.paragraphs[0][:80])}"></head><body>',
        f'<header><a href="/">{e(site)}</a><nav>',
        " ".join(f'<a href="/b/{k}">{e(m)}</a>' for k, m in enumerate(menu)),
        "</nav></header><main><article>",
        f"<h1>{e(page.title)}</h1>",
        f'<div class="meta">{"작성자" if ko else "by"} {e(page.comments[0][0])} '
        f"· 2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
        f" · {'조회' if ko else 'views'} {37 + (i * 7919) % 5000}</div>",
        '<div class="content">',
        *(f"<p>{e(p)}</p>" for p in page.paragraphs),
        "</div>",
    ]
    parts += [
        '</article><section class="comments">',
        f"<h2>{'댓글' if ko else 'Comments'} {len(page.comments)}</h2><ul>",
        *(f"<li><b>{e(n)}</b> {e(c)}</li>" for n, c in page.comments),
        f'</ul></section></main><footer>© 2024 {e(site)} · <a href="/p/{i + 1}.html">'
        f"{'다음 글' if ko else 'next'}</a></footer></body></html>",
    ]
    return "".join(parts)


def build_site(
    cases: list[Case],
    spare_places: list[tuple[str, tuple[str, ...]]],
    n_pages: int,
    rng: random.Random,
) -> list[PageSpec]:
    by_id = {c.id: c for c in cases}
    alone = {c.id: default_alone("handle", c.handle) for c in cases}
    order = list(range(n_pages))
    rng.shuffle(order)
    n_plant = round(n_pages * PLANT_FRACTION)
    n_decoy = round(n_pages * DECOY_FRACTION)
    planted = {i: cases[k % len(cases)].id for k, i in enumerate(order[:n_plant])}
    decoys = {
        i: (cases[k % len(cases)].id, DECOYS[(k // len(cases) + k) % len(DECOYS)])
        for k, i in enumerate(order[n_plant : n_plant + n_decoy])
    }
    pages = []
    counts: Counter[str] = Counter()
    for i in range(n_pages):
        if i in planted:
            case = by_id[planted[i]]
            lang = case.lang if rng.random() < 0.85 else ("en" if case.lang == "ko" else "ko")
            page = base_page(rng, lang)
            plant_page(page, case, alone[case.id], counts, rng)
        elif i in decoys:
            case = by_id[decoys[i][0]]
            lang = case.lang if rng.random() < 0.85 else ("en" if case.lang == "ko" else "ko")
            page = base_page(rng, lang)
            decoy_page(page, case, decoys[i][1], cases, spare_places, rng)
        else:
            page = base_page(rng, "ko" if rng.random() < 0.7 else "en")
        pages.append(page)
    return pages


# -- pictures ---------------------------------------------------------------------------------------------


def picture(seed: int, key: int) -> Image.Image:
    """A small synthetic picture: a smooth random field and a few shapes."""
    g = np.random.default_rng([seed, key])
    field_ = g.random((6, 8, 3)) * 255
    im = Image.fromarray(field_.astype(np.uint8), "RGB").resize(PICTURE_SIZE, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(im)
    w, h = PICTURE_SIZE
    for _ in range(int(g.integers(3, 7))):
        x0, y0 = int(g.integers(0, w - 40)), int(g.integers(0, h - 40))
        x1, y1 = x0 + int(g.integers(20, w // 2)), y0 + int(g.integers(20, h // 2))
        colour = tuple(int(v) for v in g.integers(0, 256, 3))
        if g.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    return im


def jpeg(im: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()


def image_plants(n_pages: int, n_bank: int) -> dict[int, int]:
    """page -> bank picture its picture copies."""
    return {
        i: (i // IMAGE_PLANT_EVERY) % n_bank
        for i in range(IMAGE_PLANT_EVERY // 2, n_pages, IMAGE_PLANT_EVERY)
    }


BANK_KEY = 10**6  # picture keys of the bank (pages use their number)


def page_picture(seed: int, i: int, plants: dict[int, int]) -> bytes:
    if i in plants:  # a re-post: scaled down and re-encoded
        im = picture(seed, BANK_KEY + plants[i]).resize((288, 216), Image.Resampling.BILINEAR)
        return jpeg(im, 70)
    return jpeg(picture(seed, i), 85)


# -- the site (a separate process) ------------------------------------------------------------------------


def run_site(pages: list[str], seed: int, n_bank: int, ready: Any) -> None:
    from aiohttp import web

    n = len(pages)
    plants = image_plants(n, n_bank)
    images = [page_picture(seed, i, plants) for i in range(n)]
    texts = [p.encode("utf-8") for p in pages]
    parts = (n + SITEMAP_SIZE - 1) // SITEMAP_SIZE
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'

    async def sitemap_index(request: web.Request) -> web.Response:
        d = request.match_info["d"]
        body = "".join(f"<sitemap><loc>/{d}/sitemap-{k}.xml</loc></sitemap>" for k in range(parts))
        return web.Response(text=f"<sitemapindex {ns}>{body}</sitemapindex>", content_type="application/xml")

    async def sitemap(request: web.Request) -> web.Response:
        d, k = request.match_info["d"], int(request.match_info["k"])
        locs = range(k * SITEMAP_SIZE, min(n, (k + 1) * SITEMAP_SIZE))
        body = "".join(f"<url><loc>/{d}/{i}.html</loc></url>" for i in locs)
        return web.Response(text=f"<urlset {ns}>{body}</urlset>", content_type="application/xml")

    async def page(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        if request.match_info["d"] == "p":
            return web.Response(body=texts[i], content_type="text/html", charset="utf-8")
        body = pages[i].replace(
            "</div></article>",
            f'</div><figure><img src="/img/{i}.jpg" alt="" width="320" height="240"></figure></article>',
            1,
        )
        return web.Response(text=body, content_type="text/html", charset="utf-8")

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=images[int(request.match_info["i"])], content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/{d:[pq]}/sitemap.xml", sitemap_index)
    app.router.add_get("/{d:[pq]}/sitemap-{k:[0-9]+}.xml", sitemap)
    app.router.add_get("/{d:[pq]}/{i:[0-9]+}.html", page)
    app.router.add_get("/img/{i:[0-9]+}.jpg", image)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        ready.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


# -- measuring --------------------------------------------------------------------------------------------


def page_number(url: str) -> int:
    return int(url.rsplit("/", 1)[1].removesuffix(".html").removesuffix(".jpg"))


def peer_raises(text: str, idents: list[PersonalIdentifier], alone: dict[str, bool]) -> set[str]:
    """Case-insensitive substring search for each identifier as recorded, under the same rule."""
    low = text.casefold()
    found: dict[str, list[PersonalIdentifier]] = defaultdict(list)
    for ident in idents:
        if ident.value.casefold() in low:
            found[ident.case_id].append(ident)
    return {
        case
        for case, hits in found.items()
        if any(alone[h.id] for h in hits) or len({h.kind for h in hits}) >= 2
    }


def score_text(pages: list[PageSpec], raised: dict[int, set[str]]) -> dict[str, Any]:
    """Recall of the planted pages (overall, per class, per combination) and false candidates."""
    per_class: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_combo: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_decoy: Counter[str] = Counter()
    false_where: Counter[str] = Counter()
    planted = hit = false = 0
    false_pages = set()
    missed = []
    for i, page in enumerate(pages):
        got = raised.get(i, set())
        if page.case is not None:
            planted += 1
            ok = page.case in got
            hit += ok
            for cls in {p.cls for p in page.plants}:
                per_class[cls][0] += 1
                per_class[cls][1] += ok
            per_combo[page.combo][0] += 1
            per_combo[page.combo][1] += ok
            if not ok:
                missed.append(
                    {"page": i, "case": page.case, "plants": [[p.kind, p.cls, p.text] for p in page.plants]}
                )
        for case in got:
            if case == page.case:
                continue
            false += 1
            false_pages.add(i)
            if page.decoy is not None and case == page.decoy_case:
                per_decoy[page.decoy] += 1
                false_where[f"decoy: {page.decoy}"] += 1
            elif page.case is not None:
                false_where["planted page, another case"] += 1
            else:
                false_where["filler or another case's decoy"] += 1
    return {
        "planted_pages": planted,
        "raised": hit,
        "recall": hit / planted if planted else 1.0,
        "false_candidates": false,
        "false_pages": len(false_pages),
        "false_pct_of_pages": 100 * len(false_pages) / len(pages),
        "per_class": {k: {"pages": v[0], "raised": v[1]} for k, v in sorted(per_class.items())},
        "per_combination": {k: {"pages": v[0], "raised": v[1]} for k, v in sorted(per_combo.items())},
        "false_by_decoy": dict(per_decoy),
        "false_where": dict(false_where),
        "missed_pages": missed,
    }


def score_identifiers(
    pages: list[PageSpec], cases: dict[str, Case], diag: TextBank
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, int]]]:
    """Each planted sentence alone, against the same identifiers with every kind enough on its own;
    and the peer's substring search on the same sentence."""
    per_class: dict[str, dict[str, Any]] = {}
    per_kind: dict[str, dict[str, int]] = {}
    for page in pages:
        if page.case is None:
            continue
        case = cases[page.case]
        for p in page.plants:
            ident = f"{case.id}-{p.kind}"
            found = any(
                m.case_id == case.id and any(i == ident for i, _k in m.identifiers)
                for m in diag.match(p.sentence)
            )
            peer = case.recorded(p.kind).casefold() in p.sentence.casefold()
            row = per_class.setdefault(
                p.cls, {"planted": 0, "haven": 0, "peer": 0, "kinds": set(), "missed": []}
            )
            row["planted"] += 1
            row["haven"] += found
            row["peer"] += peer
            row["kinds"].add(p.kind)
            if not found and len(row["missed"]) < 12:
                row["missed"].append(f"{p.kind}: {p.text!r} (recorded {case.recorded(p.kind)!r})")
            k = per_kind.setdefault(p.kind, {"planted": 0, "haven": 0, "peer": 0})
            k["planted"] += 1
            k["haven"] += found
            k["peer"] += peer
    for row in per_class.values():
        row["kinds"] = sorted(row["kinds"])
    return dict(sorted(per_class.items())), per_kind


def score_images(report: ScanReport, plants: dict[int, int]) -> dict[str, Any]:
    found = set()
    false = 0
    for c in report.candidates:
        i = page_number(c.media_url)
        if plants.get(i) is not None and c.content_id == f"pic-{plants[i]}":
            found.add(i)
        else:
            false += 1
    return {"planted": len(plants), "found": len(found), "false_candidates": false}


def text_raised(report: ScanReport) -> dict[int, set[str]]:
    raised: dict[int, set[str]] = defaultdict(set)
    for c in report.text_candidates:
        raised[page_number(c.page_url)].add(c.case_id)
    return raised


def false_candidates(report: ScanReport, pages: list[PageSpec]) -> list[dict[str, Any]]:
    """The candidates raised for a case a page holds no plant of, with what matched."""
    out = []
    for c in report.text_candidates:
        i = page_number(c.page_url)
        page = pages[i]
        if c.case_id == page.case:
            continue
        matched = [c.snippet[a:b] for a, b in c.spans]
        out.append(
            {
                "page": i,
                "case": c.case_id,
                "kinds": list(c.kinds),
                "matched": matched,
                "page_holds": f"decoy: {page.decoy} for {page.decoy_case}"
                if page.decoy
                else f"plant for {page.case}"
                if page.case
                else "filler",
            }
        )
    return out


def source_commit() -> str:
    """The commit measured (with "+" when the matcher has changes not committed)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", "src/haven/scan"], cwd=root
        ).returncode
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+" if dirty else "")


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f} % ({a}/{b})" if b else "—"


RUNS = {
    "text": "text scan, text bank (text pages)",
    "image": "image scan, robust matching: the default (picture pages)",
    "image-plain": "image scan, plain PDQ (picture pages)",
    "both": "text + image scan, text bank + plain PDQ (picture pages)",
}
TIMING_SAMPLE = 1000  # pages matched in process to time the matching alone


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="500 pages")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"which of {', '.join(RUNS)} to scan")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.pages = 500
    chosen = [r for r in args.runs.split(",") if r]
    if unknown := set(chosen) - set(RUNS):
        raise SystemExit(f"unknown runs: {', '.join(sorted(unknown))}")

    t0 = time.perf_counter()
    commit = source_commit()
    rng = random.Random(args.seed)
    cases, spare = make_cases(args.cases, rng)
    by_id = {c.id: c for c in cases}
    specs = build_site(cases, spare, args.pages, rng)
    htmls = [
        render(p, i, KO_SITES[i % len(KO_SITES)] if p.lang == "ko" else EN_SITES[i % len(EN_SITES)])
        for i, p in enumerate(specs)
    ]
    idents = [ident for c in cases for ident in c.identifiers()]
    bank = TextBank.build(idents)
    diag = TextBank.build(idents, min_kinds={c.id: 1 for c in cases})
    alone = {e.id: e.alone for e in bank.entries}

    n_bank = len(cases)
    entries = []
    for k in range(n_bank):
        data = jpeg(picture(args.seed, BANK_KEY + k), 95)
        whole, *extra = robust_signals(data)
        entries.append(BankEntry(f"pic-{k}", cases[k].id, whole.hash, md5(data), whole.quality, tuple(extra)))
    image_bank = BankSnapshot(entries)
    pic_plants = image_plants(args.pages, n_bank)
    print(
        f"{len(cases)} cases, {args.pages:,} pages ({sum(p.case is not None for p in specs)} planted, "
        f"{sum(p.decoy is not None for p in specs)} decoys), {len(bank)} identifiers; "
        f"built in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )

    # The same page text matched in this process: Haven's matching alone (timed on a sample
    # when the scan runs), and the peer's substring search.
    texts = [page_text(h) for h in htmls]
    sample = len(texts) if "text" not in chosen else min(len(texts), TIMING_SAMPLE)
    t = time.perf_counter()
    haven_local = {i: {m.case_id for m in bank.match(texts[i])} for i in range(sample)}
    haven_match_s = time.perf_counter() - t
    t = time.perf_counter()
    peer = {i: peer_raises(text, idents, alone) for i, text in enumerate(texts)}
    peer_match_s = time.perf_counter() - t
    identifiers, per_kind = score_identifiers(specs, by_id, diag)

    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    server = context.Process(target=run_site, args=(htmls, args.seed, n_bank, ready), daemon=True)
    server.start()
    port = ready.get(timeout=600)
    base = f"http://127.0.0.1:{port}"
    print(f"site ready on {base} after {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    policy = FetchPolicy(allow_loopback=True)

    def source(d: str) -> list[Sitemap]:
        return [Sitemap(f"{base}/{d}/sitemap.xml", max_pages=args.pages, max_sitemaps=1000)]

    runs: dict[str, dict[str, Any]] = {}
    scanned: dict[int, set[str]] | None = None
    false_details: list[dict[str, Any]] = []
    try:
        for run in chosen:
            options = ScanOptions(policy=policy, robust=run == "image")
            if run == "text":
                report = scan(source("p"), None, options=options, text_bank=bank)
            elif run in ("image", "image-plain"):
                report = scan(source("q"), image_bank, options=options)
            else:
                report = scan(source("q"), image_bank, options=options, text_bank=bank)
            s = report.stats
            row: dict[str, Any] = {
                "pages": s.pages,
                "pictures_hashed": s.hashed,
                "elapsed_s": round(s.elapsed_s, 2),
                "pages_per_s": round(s.pages / s.elapsed_s, 1),
                "errors": dict(s.errors),
            }
            if run in ("text", "both"):
                raised = text_raised(report)
                if scanned is None:
                    scanned, false_details = raised, false_candidates(report, specs)
                elif raised != scanned:
                    print(f"note: {run} raised other pages than the first text scan", file=sys.stderr)
                scored = score_text(specs, raised)
                row.update({k: scored[k] for k in ("recall", "false_candidates", "false_pages")})
            if run != "text":
                row["images"] = score_images(report, pic_plants)
            runs[run] = row
            print(f"{run}: {json.dumps(row)}", file=sys.stderr)
    finally:
        server.terminate()

    if scanned is None:
        scanned = haven_local
    elif {i: c for i, c in scanned.items() if i < sample and c} != {
        i: c for i, c in haven_local.items() if c
    }:
        print("note: the scan raised other pages than matching in process", file=sys.stderr)
    haven = score_text(specs, scanned)
    peer_scored = score_text(specs, peer)

    n = args.pages
    n_decoys = sum(p.decoy is not None for p in specs)
    print(
        f"\n{n:,} pages ({n - haven['planted_pages'] - n_decoys:,} filler, "
        f"{haven['planted_pages']} planted, {n_decoys:,} decoys); {len(cases)} cases "
        f"({sum(c.lang == 'en' for c in cases)} with English names); seed {args.seed}; commit {commit}\n"
    )
    print("| method | planted pages raised | false candidates | pages with a false candidate |")
    print("|---|--:|--:|--:|")
    for label, r in (("Haven text scan", haven), ("peer: substring as recorded", peer_scored)):
        print(
            f"| {label} | {pct(r['raised'], r['planted_pages'])} | {r['false_candidates']} "
            f"| {r['false_pages']} ({r['false_pct_of_pages']:.2f} % of pages) |"
        )

    print(
        "\nPer class of spelling (identifiers: each planted sentence matched alone; pages: the scan's rule)\n"
    )
    print("| class | kinds | identifiers found: Haven | peer | planted pages raised: Haven | peer |")
    print("|---|---|--:|--:|--:|--:|")
    for cls, r in identifiers.items():
        pc, pp = haven["per_class"].get(cls, {}), peer_scored["per_class"].get(cls, {})
        print(
            f"| {cls} | {', '.join(r['kinds'])} | {pct(r['haven'], r['planted'])} "
            f"| {pct(r['peer'], r['planted'])} | {pct(pc.get('raised', 0), pc.get('pages', 0))} "
            f"| {pct(pp.get('raised', 0), pp.get('pages', 0))} |"
        )
    weakest = min(identifiers, key=lambda c: (identifiers[c]["haven"] / identifiers[c]["planted"], c))
    w = identifiers[weakest]
    print(f"\nWeakest class: {weakest} ({pct(w['haven'], w['planted'])} of its identifiers found)")

    print("\n| kind | identifiers found: Haven | peer |\n|---|--:|--:|")
    for kind, r in per_kind.items():
        print(f"| {kind} | {pct(r['haven'], r['planted'])} | {pct(r['peer'], r['planted'])} |")

    print("\n| combination planted | Haven | peer |\n|---|--:|--:|")
    for combo, r in haven["per_combination"].items():
        p = peer_scored["per_combination"][combo]
        print(f"| {combo} | {pct(r['raised'], r['pages'])} | {pct(p['raised'], p['pages'])} |")

    decoy_pages = Counter(p.decoy for p in specs if p.decoy is not None)
    print("\n| decoy (must raise nothing) | pages | Haven false candidates | peer false candidates |")
    print("|---|--:|--:|--:|")
    for d in DECOYS:
        print(
            f"| {d} | {decoy_pages[d]} | {haven['false_by_decoy'].get(d, 0)} "
            f"| {peer_scored['false_by_decoy'].get(d, 0)} |"
        )
    for label, r in (("Haven", haven), ("peer", peer_scored)):
        other = {k: v for k, v in r["false_where"].items() if not k.startswith("decoy:")}
        if other:
            print(f"\nOther false candidates ({label}): {other}")

    print(
        "\n| run | pages | pictures hashed | pages/s | elapsed s | text recall | text false "
        "| image copies found | image false |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for run, r in runs.items():
        img = r.get("images")
        recall = f"{r['recall']:.1%}" if "recall" in r else "—"
        found = f"{img['found']}/{img['planted']}" if img else "—"
        print(
            f"| {RUNS[run]} | {r['pages']:,} | {r['pictures_hashed']:,} | {r['pages_per_s']:,} "
            f"| {r['elapsed_s']} | {recall} | {r.get('false_candidates', '—')} | {found} "
            f"| {img['false_candidates'] if img else '—'} |"
        )
    print(
        f"| matching alone, in process: Haven `TextBank.match` | {sample:,} | — "
        f"| {sample / haven_match_s:,.1f} "
        f"| {haven_match_s:.2f} | | | | |"
    )
    print(
        f"| matching alone, in process: peer substring | {n:,} | — | {n / peer_match_s:,.1f} "
        f"| {peer_match_s:.2f} | {peer_scored['recall']:.1%} | {peer_scored['false_candidates']} | | |"
    )
    if "text" in runs:
        for run in ("image", "image-plain"):
            if run in runs:
                ratio = runs["text"]["pages_per_s"] / runs[run]["pages_per_s"]
                print(f"\ntext scan / {RUNS[run].split(' (')[0]}: {ratio:.2f}× the pages per second")

    for f in false_details[:20]:
        print(f"false candidate: {f}", file=sys.stderr)
    if haven["missed_pages"]:
        print(f"{len(haven['missed_pages'])} planted pages not raised; first ones:", file=sys.stderr)
        for m in haven["missed_pages"][:20]:
            print(f"  {m}", file=sys.stderr)
    for cls, r in identifiers.items():
        if r["missed"]:
            print(f"missed in {cls}: {'; '.join(r['missed'][:8])}", file=sys.stderr)

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "pages": n,
                "cases": len(cases),
                "seed": args.seed,
                "commit": commit,
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "classes": CLASSES,
                "haven": haven,
                "haven_false_candidates": false_details,
                "haven_matching_in_process": {"pages": sample, "seconds": round(haven_match_s, 3)},
                "peer": {**peer_scored, "seconds": round(peer_match_s, 3)},
                "identifiers_per_class": identifiers,
                "identifiers_per_kind": per_kind,
                "runs": {RUNS[k]: v for k, v in runs.items()},
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
