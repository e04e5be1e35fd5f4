"""The practice forum Haven serves for the demo: off unless asked for, synthetic, and like a site."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from haven.signals import pdq_hash
from haven.web.core import practice


def test_the_practice_site_is_off_unless_asked_for(db: None) -> None:
    for url in ("/practice/", "/practice/post/1/", "/practice/img/1.jpg"):
        assert Client().get(url).status_code == 404


@override_settings(HAVEN_PRACTICE_SITE=True)
def test_it_serves_posts_pictures_and_a_removed_post(db: None) -> None:
    client = Client()
    index = client.get("/practice/").content.decode()
    assert index.count("/practice/post/") == practice.POSTS
    assert '<img src="/practice/img/1.jpg"' in client.get("/practice/post/1/").content.decode()
    picture = client.get("/practice/img/1.jpg")
    assert picture["Content-Type"] == "image/jpeg"
    assert client.get("/practice/post/5/").status_code == 410
    assert client.get("/practice/img/5.jpg").status_code == 404
    assert client.get("/practice/post/99/").status_code == 404


@pytest.mark.parametrize("n", range(1, practice.POSTS + 1))
def test_each_served_picture_is_a_near_copy_of_its_original_and_of_no_other(n: int) -> None:
    mine = pdq_hash(practice.original(n))
    assert mine.quality >= 50
    assert pdq_hash(practice.served(n)).hash.distance(mine.hash) <= 31
    for other in range(1, practice.POSTS + 1):
        if other != n:
            assert pdq_hash(practice.served(other)).hash.distance(mine.hash) > 31
