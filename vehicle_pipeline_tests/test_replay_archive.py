"""Snapshots out as WARC, and the replay archive that reads WARC files and capture folders back."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator

from vehicle_pipeline.sample_site.replay import ReplayArchive, ReplayError, ReplaySite, url_key
from vehicle_pipeline.store.records import save_snapshot
from vehicle_pipeline.store.snapshot_export import export_snapshots
from vehicle_pipeline_tests.conftest import stand_in_client

T0 = datetime(2026, 11, 1, 3, 0, tzinfo=timezone.utc)
HTML = "text/html; charset=utf-8"


def _pages(db):
    """A small crawl: BaT index and listing, a Craigslist metro page, a dealer page, a 404 kept as evidence."""
    pages = [
        ("https://bringatrailer.com/auctions/results/", 200, HTML, b"<html>bat index</html>", T0),
        ("https://bringatrailer.com/listing/1967-porsche-911s-3/", 200, HTML, b"<html>911S \xe2\x82\xac</html>",
         T0 + timedelta(minutes=1)),
        ("https://sacramento.craigslist.org/search/cta?query=x", 200, HTML, b"<html>cl sacramento</html>",
         T0 + timedelta(minutes=2)),
        ("https://sunset-classics.example/inventory/", 200, HTML, b"<html>dealer</html>", T0 + timedelta(minutes=3)),
        ("https://carsandbids.com/api/v2/auctions/abc", 200, "application/json", b'{"id": "abc"}',
         T0 + timedelta(days=2)),
        ("https://www.mecum.com/lots/gone/", 410, HTML, b"<html>gone</html>", T0 + timedelta(minutes=4)),
    ]
    with db.connection() as conn:
        conn.execute("INSERT INTO sources (name, kind, base_url) VALUES ('dealer:sunset-classics', 'dealer', "
                     "'https://sunset-classics.example/inventory/')")
        for url, status, ctype, body, at in pages:
            save_snapshot(conn, url, status, ctype, body, fetched_at=at)
    return pages


def _export(db, path, **kw):
    with db.connection() as conn, path.open("wb") as fh:
        return export_snapshots(conn, fh, **kw)


def test_export_writes_request_and_response_records_that_replay_reads_back(db, tmp_path):
    pages = _pages(db)
    out = tmp_path / "crawl.warc.gz"
    report = _export(db, out)
    assert report.records == len(pages)
    with out.open("rb") as fh:
        records = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.rec_headers.get_header("WARC-Date"))
                   for r in ArchiveIterator(fh)]
    assert sorted(t for t, _, _ in records) == ["request"] * len(pages) + ["response"] * len(pages)
    assert {u for _, u, _ in records} == {p[0] for p in pages}
    dates = {u: d for t, u, d in records if t == "response"}
    assert dates["https://bringatrailer.com/auctions/results/"] == "2026-11-01T03:00:00Z"

    archive = ReplayArchive.load(out)
    assert len(archive) == len(pages)
    for url, status, ctype, body, at in pages:
        got = archive.get(url)
        assert got is not None, url
        assert (got.status, got.content_type, got.body, got.fetched_at) == (status, ctype, body, at)
    assert archive.origins() == ["https://bringatrailer.com", "https://carsandbids.com",
                                 "https://sacramento.craigslist.org", "https://sunset-classics.example",
                                 "https://www.mecum.com"]
    assert archive.get("https://bringatrailer.com/listing/other/") is None


def test_snapshots_keep_the_headers_that_describe_the_page_and_export_them(db, tmp_path):
    with db.connection() as conn:
        save_snapshot(conn, "https://www.mecum.com/lots/1/", 200, HTML, b"<html>lot</html>", fetched_at=T0,
                      headers={"content-type": HTML, "etag": '"abc"', "cache-control": "max-age=60",
                               "set-cookie": "session=secret", "content-encoding": "br", "x-robots-tag": "noarchive"})
        stored = conn.execute("SELECT headers FROM page_snapshots").fetchone()[0]
    assert stored == {"content-type": HTML, "etag": '"abc"', "cache-control": "max-age=60", "x-robots-tag": "noarchive"}
    out = tmp_path / "h.warc.gz"
    _export(db, out)
    got = ReplayArchive.load(out).get("https://www.mecum.com/lots/1/")
    assert dict(got.headers) == {"Cache-Control": "max-age=60", "Content-Type": HTML, "ETag": '"abc"',
                                 "X-Robots-Tag": "noarchive"}


def test_export_filters_by_source_and_time(db, tmp_path):
    _pages(db)
    bat = tmp_path / "bat.warc.gz"
    _export(db, bat, source="bat")
    assert ReplayArchive.load(bat).urls() == ["https://bringatrailer.com/auctions/results/",
                                              "https://bringatrailer.com/listing/1967-porsche-911s-3/"]
    cl = tmp_path / "cl.warc.gz"
    _export(db, cl, source="craigslist")
    assert ReplayArchive.load(cl).urls() == ["https://sacramento.craigslist.org/search/cta?query=x"]
    dealer = tmp_path / "dealer.warc.gz"
    _export(db, dealer, source="dealer:sunset-classics")
    assert ReplayArchive.load(dealer).urls() == ["https://sunset-classics.example/inventory/"]
    late = tmp_path / "late.warc.gz"
    assert _export(db, late, since=T0 + timedelta(days=1)).records == 1
    assert ReplayArchive.load(late).urls() == ["https://carsandbids.com/api/v2/auctions/abc"]
    with pytest.raises(ValueError, match="unknown source 'nosuch'"):
        _export(db, tmp_path / "x.warc.gz", source="nosuch")


def _folder(tmp_path, entries, files):
    folder = tmp_path / "captures"
    folder.mkdir()
    for name, body in files.items():
        (folder / name).write_bytes(body)
    (folder / "manifest.json").write_text(json.dumps(entries) if not isinstance(entries, str) else entries)
    return folder


def test_capture_folder_later_capture_wins_and_headers_are_kept(tmp_path):
    folder = _folder(tmp_path, [
        {"url": "https://bringatrailer.com/listing/a/", "status": 200, "content_type": HTML, "file": "a1.html",
         "fetched_at": "2026-11-01T01:00:00Z"},
        {"url": "https://bringatrailer.com/listing/a/", "content_type": HTML, "file": "a2.html",
         "fetched_at": "2026-11-01T02:00:00Z"},
        {"url": "https://bringatrailer.com/old", "status": 301, "file": "empty",
         "headers": {"Location": "https://bringatrailer.com/listing/a/"}},
    ], {"a1.html": b"first", "a2.html": b"second", "empty": b""})
    archive = ReplayArchive.load(folder)
    assert archive.get("https://BringATrailer.com:443/listing/a/#frag").body == b"second"
    moved = archive.get("https://bringatrailer.com/old")
    assert moved.status == 301 and ("Location", "https://bringatrailer.com/listing/a/") in moved.headers


@pytest.mark.parametrize("entries, files, message", [
    (None, {}, "needs a manifest.json"),
    ("[{", {}, "manifest.json: not JSON"),
    ({"url": "x"}, {}, "must be a JSON array"),
    ([{"url": "https://bringatrailer.com/a"}], {}, 'entry 1 (https://bringatrailer.com/a): needs a "file"'),
    ([{"file": "a"}], {"a": b""}, 'entry 1: needs a "url"'),
    ([{"url": "https://bringatrailer.com/a", "file": "missing.html"}], {},
     "entry 1 (https://bringatrailer.com/a): cannot read file 'missing.html'"),
    ([{"url": "https://bringatrailer.com/a", "file": "../outside"}], {}, "outside the capture folder"),
    ([{"url": "https://bringatrailer.com/a", "file": "a", "status": "200"}], {"a": b""}, "status must be an HTTP"),
    ([{"url": "ftp://x/a", "file": "a"}], {"a": b""}, "entry 1: not an absolute http(s) URL"),
    ([{"url": "https://x/a", "file": "a", "sha": 1}], {"a": b""}, "unknown field(s) sha"),
    ([], {}, "no responses recorded"),
])
def test_capture_folder_errors_name_the_entry_and_the_problem(tmp_path, entries, files, message):
    if entries is None:
        folder = tmp_path / "captures"
        folder.mkdir()
    else:
        folder = _folder(tmp_path, entries, files)
    with pytest.raises(ReplayError) as info:
        ReplayArchive.load(folder)
    assert message in str(info.value)
    assert str(folder) in str(info.value)


def test_malformed_warc_files_are_refused_with_one_clear_error(db, tmp_path):
    with pytest.raises(ReplayError, match="no such file or folder"):
        ReplayArchive.load(tmp_path / "absent.warc.gz")
    text = tmp_path / "notes.warc"
    text.write_text("hello, this is not an archive\n")
    with pytest.raises(ReplayError, match="not a readable WARC file"):
        ReplayArchive.load(text)
    _pages(db)
    good = tmp_path / "good.warc.gz"
    _export(db, good)
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ReplayError, match="cut.warc.gz"):
        ReplayArchive.load(cut)
    plain = tmp_path / "plain.warc"
    with good.open("rb") as src, plain.open("wb") as dst:
        from warcio.warcwriter import WARCWriter

        writer = WARCWriter(dst, gzip=False)
        for record in ArchiveIterator(src):
            writer.write_record(record)
    assert len(ReplayArchive.load(plain)) == 6
    cut_plain = tmp_path / "cut.warc"
    cut_plain.write_bytes(plain.read_bytes()[:-40])
    with pytest.raises(ReplayError, match="cut.warc: record 12.*: the record is cut off"):
        ReplayArchive.load(cut_plain)
    only_requests = tmp_path / "requests.warc.gz"
    with good.open("rb") as src, only_requests.open("wb") as dst:
        from warcio.warcwriter import WARCWriter

        writer = WARCWriter(dst, gzip=True)
        for record in ArchiveIterator(src):
            if record.rec_type == "request":
                writer.write_record(record)
    with pytest.raises(ReplayError, match="no responses recorded"):
        ReplayArchive.load(only_requests)
    plain_gzip = tmp_path / "page.html.gz"
    plain_gzip.write_bytes(gzip.compress(b"<html>not a warc</html>"))
    with pytest.raises(ReplayError, match="not a readable WARC file"):
        ReplayArchive.load(plain_gzip)


def test_replay_site_serves_captures_at_their_host_names_and_404_for_the_rest(tmp_path):
    folder = _folder(tmp_path, [
        {"url": "https://bringatrailer.com/listing/a/", "content_type": HTML, "file": "a.html"},
        {"url": "https://bringatrailer.com/api/x", "status": 503, "content_type": "application/json",
         "file": "x.json", "headers": {"Retry-After": "30", "Transfer-Encoding": "chunked"}},
        {"url": "https://www.classic.com/robots.txt", "content_type": "text/plain", "file": "robots.txt"},
        {"url": "http://www.oldtimer.example/inventory/", "content_type": HTML, "file": "inv.html"},
    ], {"a.html": b"<html>listing a</html>", "x.json": b"{}", "robots.txt": b"User-agent: *\nDisallow: /x/\n",
        "inv.html": b"<html>inventory</html>"})
    with ReplaySite(ReplayArchive.load(folder)) as site:
        assert set(site.resolve) == {"bringatrailer.com", "www.classic.com", "www.oldtimer.example"}
        assert len({target.split(":")[0] for target in site.resolve.values()}) == 3  # one address per host
        settings = site.client_settings()
        assert settings["extra_ca_file"] == site.ca_file and set(settings["allow_private_hosts"]) == set(site.resolve)
        with stand_in_client(site) as client:
            page = client.get("https://bringatrailer.com/listing/a/")
            assert (page.status_code, page.headers["content-type"], page.content) == (200, HTML, b"<html>listing a</html>")
            busy = client.get("https://bringatrailer.com/api/x")
            assert busy.status_code == 503 and busy.headers["retry-after"] == "30"
            assert "transfer-encoding" not in busy.headers  # the body is whole: a recorded transfer coding is not replayed
            assert client.get("https://bringatrailer.com/robots.txt").status_code == 404  # none recorded: allow-all
            assert client.get("https://www.classic.com/robots.txt").content == b"User-agent: *\nDisallow: /x/\n"
            missing = client.get("https://bringatrailer.com/listing/b/")
            assert missing.status_code == 404 and b"not in the replayed crawl" in missing.content
            assert client.get("http://www.oldtimer.example/inventory/").content == b"<html>inventory</html>"
            # Each host answers only at its own address, as the stand-in's hosts do.
            wrong = client.get("https://bringatrailer.com/", headers={"Host": "www.classic.com"})
            assert wrong.status_code == 421
        assert httpx.get(site.base_url + "/").json()["responses"] == 4


def test_a_capture_at_an_address_cannot_be_replayed_at_a_host_name(tmp_path):
    folder = _folder(tmp_path, [{"url": "http://127.0.0.1:8765/bat/listing/a/", "file": "a.html"}], {"a.html": b"x"})
    with pytest.raises(ReplayError, match="recorded at an address, not a host name"):
        ReplaySite(ReplayArchive.load(folder))


def test_url_key_normalizes_what_does_not_change_the_resource():
    assert url_key("HTTPS://Example.COM:443") == "https://example.com/"
    assert url_key("http://example.com:8080/a?b=1#c") == "http://example.com:8080/a?b=1"
    with pytest.raises(ValueError):
        url_key("/relative/path")


def test_sample_site_replay_command_serves_a_folder_and_refuses_bad_input_in_one_line(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path
    from types import SimpleNamespace

    exe = [str(Path(sys.executable).with_name("vehicle-pipeline"))]
    folder = _folder(tmp_path, [{"url": "https://www.mecum.com/lots/1/", "content_type": HTML, "file": "1.html"}],
                     {"1.html": b"<html>lot 1</html>"})
    proc = subprocess.Popen(exe + ["sample-site", "--replay", str(folder), "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        lines = [proc.stdout.readline().strip() for _ in range(5)]
        assert lines[0].startswith("http://127.0.0.1:") and lines[1].startswith("ca ") and lines[2].startswith("config ")
        assert lines[3].startswith("resolve www.mecum.com 127.0.0.")
        assert lines[4] == "1 recorded responses; anything else is 404"
        config = json.loads(Path(lines[2].split(" ", 1)[1]).read_text())
        assert config["allow_private_hosts"] == ["www.mecum.com"]
        site = SimpleNamespace(resolve=config["resolve"], ca_file=config["extra_ca_file"])
        with stand_in_client(site) as client:
            assert client.get("https://www.mecum.com/lots/1/").content == b"<html>lot 1</html>"
            assert client.get("https://www.mecum.com/lots/2/").status_code == 404
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    (folder / "1.html").unlink()
    bad = subprocess.run(exe + ["sample-site", "--replay", str(folder)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("error: sample-site: ") and "entry 1 (https://www.mecum.com/lots/1/): cannot read file" in bad.stderr
