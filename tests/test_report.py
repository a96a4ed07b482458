"""sqlsel report: every number in report.json, one self-contained HTML page, opened in a real browser."""

from __future__ import annotations

import json
import os
import shutil

import pyarrow as pa
import pytest

import sqlsel
from sqlsel.report import report
from tests.conftest import EXAMPLES, RECIPE_CASES, TARGETED

pytest.importorskip("matplotlib")


def run(recipe, pool, tmp_path, **extra):
    params = {"pool": str(pool), **RECIPE_CASES[recipe], **extra}
    if recipe in TARGETED:
        params["target"] = str(EXAMPLES / "target.jsonl")
    con = sqlsel.connect(tmp_path / "c.duckdb")
    result = sqlsel.run_recipe(recipe, params, con=con, out=tmp_path / "out.parquet")
    return con, result


@pytest.mark.parametrize("recipe", sorted(RECIPE_CASES))
def test_every_recipe_gets_a_report(recipe, recipe_pool, tmp_path):
    con, result = run(recipe, recipe_pool, tmp_path)
    html_path, json_path = report(con, result.run_id, by=["source"]).write(tmp_path / "report.html")
    data = json.loads(json_path.read_text())
    assert data["funnel"]["rows_out"] == result.rows_out and data["funnel"]["rows_in"] == 600
    assert sum(data["composition"]["source"]["selected"]) == result.rows_out
    if recipe in ("exact_dedup", "minhash_dedup"):
        assert "duplicate_pairs" in data or result.rows_out == 0
    page = html_path.read_text()
    assert page.count("data:image/png;base64,") >= 2  # self-contained: nothing is loaded from elsewhere
    assert not any(f'{attr}="http' in page for attr in ("src", "href")) and "url(http" not in page
    con.close()


@pytest.mark.parametrize("recipe", ["dsir_select", "zipfit_select", "balanced_sample"])
def test_the_pools_scores_are_shown_beside_the_outputs(recipe, recipe_pool, tmp_path):
    con, result = run(recipe, recipe_pool, tmp_path)
    scores = report(con, result.run_id).data["scores"]
    assert scores["pool"]["n"] == 600 and scores["selected"]["n"] == result.rows_out
    assert scores["selected"]["edges"] == scores["pool"]["edges"]  # the same bins
    if recipe == "zipfit_select":  # a top-k: exactly the output scores at least its lowest
        assert scores["pool_above_cut"] == result.rows_out
    con.close()


def test_a_report_without_its_output_says_so(recipe_pool, tmp_path):
    con, result = run("exact_dedup", recipe_pool, tmp_path)
    os.remove(tmp_path / "out.parquet")
    r = report(con, result.run_id)
    assert "not on disk" in r.notes[0] and "samples" not in r.data and "<img" in r._repr_html_()
    con.close()


def browser():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None or importlib_missing("playwright"):
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs chromium and playwright for the report's browser test (.ci/run installs them)")
        pytest.skip("no chromium or playwright here")
    return path


def importlib_missing(name):
    import importlib.util

    return importlib.util.find_spec(name) is None


def test_the_report_renders_in_chromium_offline(recipe_pool, tmp_path):
    executable = browser()
    from playwright.sync_api import sync_playwright

    con, result = run("dsir_select", recipe_pool, tmp_path)
    html_path, _ = report(con, result.run_id, by=["source"]).write(tmp_path / "report.html")
    con.close()
    errors, requests = [], []
    with sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        page = chrome.new_page(viewport={"width": 1100, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: requests.append(r.url))
        page.goto(html_path.as_uri())
        sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        chrome.close()
    print(f"screenshot: {shot}")
    assert len(sizes) >= 3 and all(w > 0 for w in sizes)
    assert not errors and [u for u in requests if not u.startswith(("file:", "data:"))] == []


def test_dsir_names_the_buckets_that_grew_by_grams_that_hash_into_them(recipe_pool, tmp_path):
    from sqlsel.kernels.ngrams import sha256_mod

    con, result = run("dsir_select", recipe_pool, tmp_path)
    grown = report(con, result.run_id).data["dsir_grams"]
    assert grown[0]["output_share_pct"] > grown[0]["pool_share_pct"]
    for row in grown:
        grams = [g for g in row["grams"].split(" · ") if g]
        assert all(b == row["bucket"] for b in sha256_mod(pa.array(grams), 10000).tolist())
    con.close()


def test_balanced_sampling_shows_each_clusters_quota_against_its_size(recipe_pool, tmp_path):
    con, result = run("balanced_sample", recipe_pool, tmp_path)
    quotas = report(con, result.run_id).data["quotas"]
    assert sum(quotas["given"]) == result.rows_out and sum(quotas["had"]) == 600
    assert all(g <= h for g, h in zip(quotas["given"], quotas["had"], strict=True))
    con.close()
