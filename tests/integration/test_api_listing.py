"""Tag listing and the repository catalog, with n/last pagination and RFC 5988 Link headers."""

import os
from urllib.parse import urlsplit

import pytest

from content import assert_error, describe, make_image, parse_link_next, push_blob, push_image, push_manifest
from harness import distribution_gap

UNSORTED_TAGS = distribution_gap("2.8 lists tags unsorted and ignores n/last (the spec requires lexical order)")
TAGS = ["a", "b1", "b10", "b2", "c", "latest", "v1.0", "v1.1", "zeta"]  # lexical == ASCII order here


@pytest.fixture
def tagged(registry, repo):
    """``repo`` with one image under every tag in TAGS (pushed in a scrambled order)."""
    manifest = make_image()
    push_image(registry, repo, manifest, ref=TAGS[4])
    for tag in TAGS[::-1]:
        push_manifest(registry, repo, tag, manifest)
    return repo


def fetch_all(registry, first_url, key):
    """Follow Link rel=next from ``first_url``; returns (pages, items in order)."""
    pages, items, url = [], [], first_url
    for _ in range(200):
        r = registry.get(url)
        assert r.status_code == 200, describe(r)
        page = r.json()[key] or []
        pages.append(page)
        items.extend(page)
        nxt = parse_link_next(r)
        if not nxt:
            return pages, items
        url = registry.abs_url(nxt)
    raise AssertionError("pagination did not terminate within 200 pages")


@UNSORTED_TAGS
def test_tags_list_returns_all_tags_in_order(registry, tagged):
    r = registry.get(f"/v2/{tagged}/tags/list")
    assert r.status_code == 200, describe(r)
    body = r.json()
    assert body["name"] == tagged
    assert body["tags"] == TAGS


@UNSORTED_TAGS
def test_tags_list_n_limits_and_link_points_to_next_page(registry, tagged):
    r = registry.get(f"/v2/{tagged}/tags/list", params={"n": 4})
    assert r.status_code == 200, describe(r)
    assert r.json()["tags"] == TAGS[:4]
    nxt = parse_link_next(r)
    assert nxt, f"no Link header although more tags exist: {describe(r)}"
    assert urlsplit(nxt).path == f"/v2/{tagged}/tags/list", nxt
    r2 = registry.get(nxt)
    assert r2.status_code == 200, describe(r2)
    page = r2.json()["tags"]
    assert page and page == TAGS[4:4 + len(page)], f"next page must continue after {TAGS[3]!r}: {page}"


@UNSORTED_TAGS
def test_tags_list_following_links_yields_every_tag_once(registry, tagged):
    pages, items = fetch_all(registry, f"/v2/{tagged}/tags/list?n=2", "tags")
    assert items == TAGS
    assert all(len(p) == 2 for p in pages[:-1]), pages


@UNSORTED_TAGS
def test_tags_list_last_starts_after_the_given_tag(registry, tagged):
    r = registry.get(f"/v2/{tagged}/tags/list", params={"n": 3, "last": "b10"})
    assert r.status_code == 200, describe(r)
    assert r.json()["tags"] == ["b2", "c", "latest"]


@UNSORTED_TAGS
def test_tags_list_last_need_not_be_an_existing_tag(registry, tagged):
    r = registry.get(f"/v2/{tagged}/tags/list", params={"n": 2, "last": "b15"})
    assert r.status_code == 200, describe(r)
    assert r.json()["tags"] == ["b2", "c"]


@UNSORTED_TAGS
def test_tags_list_n_larger_than_the_list_returns_everything(registry, tagged):
    r = registry.get(f"/v2/{tagged}/tags/list", params={"n": 1000})
    assert r.status_code == 200 and r.json()["tags"] == TAGS, describe(r)
    assert parse_link_next(r) is None, describe(r)


@UNSORTED_TAGS
def test_tags_list_last_without_n_returns_the_rest(registry, tagged):
    r = registry.get(f"/v2/{tagged}/tags/list", params={"last": "latest"})
    assert r.status_code == 200, describe(r)
    assert r.json()["tags"] == ["v1.0", "v1.1", "zeta"]


@UNSORTED_TAGS
def test_tags_list_final_page_has_no_link(registry, tagged):
    r = registry.get(f"/v2/{tagged}/tags/list", params={"n": len(TAGS)})
    assert r.status_code == 200 and r.json()["tags"] == TAGS, describe(r)
    nxt = parse_link_next(r)
    if nxt:  # a registry may not know the list ended; the next page must then be empty
        r2 = registry.get(nxt)
        assert r2.status_code == 200 and not r2.json()["tags"], describe(r2)


@UNSORTED_TAGS
def test_tags_list_n_zero_returns_empty_list_without_link(registry, tagged):
    r = registry.get(f"/v2/{tagged}/tags/list", params={"n": 0})
    assert r.status_code == 200, describe(r)
    assert r.json()["tags"] in ([], None)
    assert "Link" not in r.headers, describe(r)


def test_tags_list_of_many_tags_without_n_returns_all_or_links_the_rest(registry, repo):
    manifest = make_image()
    push_image(registry, repo, manifest)
    tags = sorted(f"t{i:04d}" for i in range(250))
    for tag in tags:
        push_manifest(registry, repo, tag, manifest)
    _, listed = fetch_all(registry, f"/v2/{repo}/tags/list", "tags")
    assert sorted(listed) == tags and len(listed) == len(tags)


def test_tags_list_unknown_repository_returns_404_name_unknown(registry, repo):
    assert_error(registry.get(f"/v2/{repo}/tags/list"), 404, "NAME_UNKNOWN")


def test_tags_list_repository_with_only_blobs_has_no_tags(registry, repo):
    push_blob(registry, repo, os.urandom(10))
    r = registry.get(f"/v2/{repo}/tags/list")
    if r.status_code == 200:
        assert not r.json()["tags"], describe(r)
    else:
        assert_error(r, 404, "NAME_UNKNOWN")


def test_tags_list_reflects_untagged_push_by_digest(registry, repo):
    tagged, untagged = make_image(), make_image()
    push_image(registry, repo, tagged, ref="only")
    push_image(registry, repo, untagged)
    assert registry.get(f"/v2/{repo}/tags/list").json()["tags"] == ["only"]


@pytest.fixture
def catalog_repos(registry, repo_factory):
    names = sorted(repo_factory(f"cat{i}") for i in range(3))
    for name in names:
        push_image(registry, name, make_image(), ref="v1")
    return names


def test_catalog_lists_pushed_repositories_in_order(registry, catalog_repos):
    _, repos = fetch_all(registry, "/v2/_catalog?n=100", "repositories")
    for name in catalog_repos:
        assert name in repos, f"{name} missing from catalog"
    assert repos == sorted(repos), "catalog is not in lexical order"
    assert len(repos) == len(set(repos)), "catalog lists a repository twice"


def test_catalog_n_and_link_paginate(registry, catalog_repos):
    r = registry.get("/v2/_catalog", params={"n": 1})
    assert r.status_code == 200, describe(r)
    assert len(r.json()["repositories"]) == 1
    nxt = parse_link_next(r)
    assert nxt, describe(r)
    assert urlsplit(nxt).path == "/v2/_catalog", nxt
    pages, repos = fetch_all(registry, "/v2/_catalog?n=2", "repositories")
    assert all(len(p) == 2 for p in pages[:-1]), pages
    for name in catalog_repos:
        assert name in repos


def test_catalog_last_starts_after_the_given_repository(registry, catalog_repos):
    r = registry.get("/v2/_catalog", params={"n": 2, "last": catalog_repos[0]})
    assert r.status_code == 200, describe(r)
    page = r.json()["repositories"]
    assert page[0] == catalog_repos[1], page
    assert all(name > catalog_repos[0] for name in page), page
