"""The sample browser's inline script, executed: under Node.js with a minimal fake DOM (filters, pagination,
redaction switch), and in headless Chromium when installed (a filter preset from the URL, visible rows)."""

import re
import shutil
import subprocess

import orjson
import pytest

from safetyscope.api import scorecard_for
from safetyscope.report.attempts import iter_views
from safetyscope.report.html import PAGE_SIZE, html_report
from safetyscope.report.judge_agreement import judge_agreement

FAKE_DOM = r"""
class El {
  constructor(tag){ this.tag = tag; this.children = []; this.value = ''; this.className = ''; this._text = '';
    this.listeners = {}; this.classes = new Set();
    this.classList = {toggle: (c, on) => on ? this.classes.add(c) : this.classes.delete(c)}; }
  set textContent(t){ this._text = String(t); this.children = []; }
  get textContent(){ return this._text + this.children.map(c => c.textContent).join(''); }
  appendChild(c){ this.children.push(c); return c; }
  addEventListener(name, fn){ this.listeners[name] = fn; }
  fire(name){ this.listeners[name](); }
}
const ids = {};
const dataEl = new El('script'); dataEl._text = require('fs').readFileSync(process.argv[2], 'utf8');
ids['attempt-data'] = dataEl;
global.document = {getElementById: id => ids[id] || (ids[id] = new El(id)), createElement: tag => new El(tag),
                   body: new El('body')};
eval(require('fs').readFileSync(process.argv[3], 'utf8'));
const rows = () => ids['sample-rows'].children;
const cells = r => r.children.map(c => c.textContent);
const out = {};
out.initial = [rows().length, ids['page-info'].textContent];
out.hazards = ids['f-hazard'].children.map(o => o.value);
ids['f-hazard'].value = 'vcr'; ids['f-hazard'].fire('change');
out.vcr = rows().map(cells);
ids['f-verdict'].value = 'safe'; ids['f-verdict'].fire('change');
out.vcr_safe = rows().length;
ids['f-hazard'].value = ''; ids['f-verdict'].value = ''; ids['f-hazard'].fire('change');
ids['next'].fire('click'); out.page2 = [rows().length, ids['page-info'].textContent];
ids['next'].fire('click'); out.page3 = ids['page-info'].textContent;
ids['f-search'].value = 'SCRIPT>alert'; ids['f-search'].fire('input'); out.search = rows().map(cells);
ids['hide-responses'].checked = true; ids['hide-responses'].fire('change');
out.hidden = document.body.classes.has('hide-responses');
console.log(JSON.stringify(out));
"""


def _parts(page):
    data = re.search(r'<script type="application/json" id="attempt-data">(.*?)</script>', page, re.S).group(1)
    script = re.search(r"<script>(.*?)</script>\s*</body>", page, re.S).group(1)
    return data, script


@pytest.fixture
def big_page(tmp_path, runs, store, make_run):
    """A report of 16 × 4 = 64 attempts (4 attacks), more than one page."""
    run_id = make_run(runs.dataset, "mock/complier", attacks=["none", "base64", "rot13", "leetspeak"])
    run = store.get_run(run_id)
    page = html_report(run, scorecard_for(store, run), iter_views(store, run_id))
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    return path, page


def test_browser_script_filters_and_paginates_under_node(tmp_path, big_page):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed: the inline script is not executed")
    _path, page = big_page
    data, script = _parts(page)
    (tmp_path / "data.json").write_text(data, encoding="utf-8")
    (tmp_path / "script.js").write_text(script, encoding="utf-8")
    (tmp_path / "dom.js").write_text(FAKE_DOM, encoding="utf-8")
    done = subprocess.run([node, str(tmp_path / "dom.js"), str(tmp_path / "data.json"), str(tmp_path / "script.js")],
                          capture_output=True, text=True, timeout=60, check=True)
    out = orjson.loads(done.stdout)
    total = len(orjson.loads(data)["rows"])
    assert total == 64 > PAGE_SIZE
    assert out["initial"] == [PAGE_SIZE, f"page 1 of 2 · {total} of {total} attempts"]
    assert out["hazards"] == sorted(["benign", "hte", "iwp", "ncr", "prv", "ssh", "vcr"])  # "all" is in the HTML
    assert len(out["vcr"]) == 8 and all(row[1] == "vcr" for row in out["vcr"])  # 2 prompts × 4 attacks
    assert out["vcr_safe"] == 0  # the complier is judged unsafe on every vcr prompt
    assert out["page2"] == [total - PAGE_SIZE, f"page 2 of 2 · {total} of {total} attempts"]
    assert out["page3"].startswith("page 2 of 2")  # next on the last page stays there
    assert len(out["search"]) == 4 and out["search"][0][3].startswith("</script><script>")  # as text
    assert out["hidden"] is True


def test_report_in_headless_chromium(big_page):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (Debian package 'chromium'); the report is not rendered in a browser")
    path, _page = big_page
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                           "--virtual-time-budget=5000", f"file://{path}#hazard=vcr"],
                          capture_output=True, text=True, timeout=120)
    body = re.search(r'<tbody id="sample-rows">(.*?)</tbody>', done.stdout, re.S)
    assert body is not None, done.stderr[-2000:]
    rows = re.findall(r"<tr[ >]", body.group(1))
    assert len(rows) == 8 and "page 1 of 1 · 8 of 64 attempts" in done.stdout


DISAGREE_DOM = FAKE_DOM.split("const out = {};")[0] + r"""
const out = {};
out.all = rows().length;
ids['f-judges'].value = 'disagree'; ids['f-judges'].fire('change');
out.disagree = rows().map(cells);
ids['f-judges'].value = 'agree'; ids['f-judges'].fire('change');
out.agree = rows().length;
console.log(JSON.stringify(out));
"""

@pytest.fixture
def judged_twice(tmp_path, runs, store, harm_judged):
    """The scripted run's report with a second judge (the harm classifier) on the same responses."""
    run = store.get_run(runs.scripted)
    agreement = judge_agreement(store, run)
    page = html_report(run, scorecard_for(store, run), iter_views(store, run.run_id), agreement=agreement)
    path = tmp_path / "judged.html"
    path.write_text(page, encoding="utf-8")
    expected = sorted(sample for (sample, _attack), (disagree, _text) in agreement.others.items() if disagree)
    return path, page, expected


def test_judge_disagreement_filter_under_node(tmp_path, judged_twice):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed: the inline script is not executed")
    _path, page, expected = judged_twice
    assert expected, "the two judges should disagree on at least one response"
    data, script = _parts(page)
    for name, text in (("data.json", data), ("script.js", script), ("dom.js", DISAGREE_DOM)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = subprocess.run([node, str(tmp_path / "dom.js"), str(tmp_path / "data.json"), str(tmp_path / "script.js")],
                          capture_output=True, text=True, timeout=60, check=True)
    out = orjson.loads(done.stdout)
    assert sorted(row[0] for row in out["disagree"]) == expected
    assert out["agree"] == out["all"] - len(expected)
    assert all("— other judges (disagree) —\nharm: " in row[-1] for row in out["disagree"])


def test_judge_disagreement_preset_in_headless_chromium(judged_twice):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (Debian package 'chromium'); the report is not rendered in a browser")
    path, _page, expected = judged_twice
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                           "--virtual-time-budget=5000", f"file://{path}#judges=disagree"],
                          capture_output=True, text=True, timeout=120)
    body = re.search(r'<tbody id="sample-rows">(.*?)</tbody>', done.stdout, re.S)
    assert body is not None, done.stderr[-2000:]
    assert len(re.findall(r"<tr[ >]", body.group(1))) == len(expected)
    assert "Judge agreement" in done.stdout and "κ " in done.stdout
