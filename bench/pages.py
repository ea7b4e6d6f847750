"""The page, API and write scenarios of `make bench`, measured at one or more sizes at once.

Every scenario is run BENCH_RUNS times (3): a run is BENCH_ROUNDS rounds, and each round
requests every scenario of every size once, in a shuffled order, one request at a time; so a
scenario, its baselines and the same scenario at the other size share the same moments of a
noisy machine. A ratio is computed in each run (p50 over the baseline's p50 in that run) and
reported as the median of the runs with their spread (lowest to highest).
"""

import itertools
import math
import random
import statistics
import time

from bench.client import RequestFailed

LEAN, TABLE, JSON, UPLOAD = "lean", "table", "json", "upload_base"
# (key, name, baseline, target): a target is a ratio to the baseline's p50, at the largest N.
SCENARIOS = [
    (LEAN, "Baseline: lean 50-row table (values_list of the queue's columns)", None, None),
    (TABLE, "Baseline: the first 50-row table (model instances, dates formatted)", None, None),
    ("queue", "Triage queue, page 1, default order", LEAN, 2.0),
    ("queue_filtered", "Queue filtered: status submitted, outcome eligible", LEAN, 2.0),
    ("queue_name", "Queue searched by family name", LEAN, 3.0),
    ("queue_reference", "Queue searched by a whole reference", LEAN, 3.0),
    ("queue_reference_partial", "Queue searched by a partial reference (vp-2026-42, 00042)",
     LEAN, 3.0),
    ("queue_medicare", "Queue searched by a whole Medicare number", LEAN, 3.0),
    ("queue_medicare_partial", "Queue searched by a partial Medicare number (6 digits)", LEAN,
     3.0),
    ("staff_page", "Referral page, admin (a new referral, every action offered)", LEAN, 3.0),
    ("review_page", "Referral page, its IR (review: packet and decision)", LEAN, 3.0),
    ("dashboard", "Dashboard of the referrer with the most referrals", LEAN, 2.0),
    (JSON, "Baseline: small JSON (same POST)", None, None),
    ("eligibility", "POST /api/eligibility", JSON, 1.5),
    ("autosave", "Autosave of the patient section (htmx POST)", JSON, 2.0),
    ("accept", "Admin accepts a referral and assigns an IR (POST, redirect)", JSON, None),
    (UPLOAD, "Baseline: a 2 MB upload streamed to disk", None, None),
    ("upload_pdf", "Upload of a 2 MB PDF (checked, hashed, stored)", UPLOAD, None),
]  # fmt: skip
NAMES = {key: name for key, name, _b, _t in SCENARIOS}
PAGES = {"queue", "queue_filtered", "queue_name", "queue_reference", "queue_reference_partial",
         "queue_medicare", "queue_medicare_partial", "staff_page", "review_page",
         "dashboard"}  # fmt: skip
ACCEPT_LATENCY_SHARE = 2000  # the first submitted referrals of the pool; mixed takes the rest


def scenarios_for(size: int, info: dict, sessions: dict, pool: list[dict]) -> list[dict]:
    """The scenarios at one size, each a callable request. Writes that use a referral up (an
    accept) take the next one of the seed's pool each call."""
    admin, ir, heavy = sessions["admin"], sessions["ir"], sessions["heavy"]
    referrer, uploader = sessions["referrer"], sessions["uploader"]
    families = info["family_names"]
    medicare = info["medicare_numbers"]
    prefixes = info["medicare_prefixes"]
    refs, partial = info["references"], info["partial_references"]
    accepts = iter(info["accept_uuids"][:ACCEPT_LATENCY_SHARE])
    ir_id = info["ir_ids"][0]
    autosave = info["writers"][info["emails"]["referrer"][3]]["autosave"]
    upload_draft = info["upload_drafts"][-1]
    pdf = info["pdf_2mb"]

    def get(session, path):
        return lambda i: session.get(path(i))

    def accept(i):
        uuid_ = next(accepts)
        return admin.post_form(
            f"/referrals/{uuid_}/actions/accept/",
            {"accept-radiologist": ir_id, "accept-note": "", "expected_status": "submitted"},
            expect=(302,),
        )

    calls = {
        LEAN: get(admin, lambda i: "/bench/lean/"),
        TABLE: get(admin, lambda i: "/bench/table/"),
        "queue": get(admin, lambda i: "/triage/"),
        "queue_filtered": get(admin, lambda i: "/triage/?status=submitted&outcome=eligible"),
        "queue_name": get(admin, lambda i: f"/triage/?q={families[i % len(families)]}"),
        "queue_reference": get(admin, lambda i: f"/triage/?q={refs[i % len(refs)]}"),
        "queue_reference_partial": get(admin, lambda i: f"/triage/?q={partial[i % len(partial)]}"),
        "queue_medicare": get(admin, lambda i: f"/triage/?q={medicare[i % len(medicare)]}"),
        "queue_medicare_partial": get(admin, lambda i: f"/triage/?q={prefixes[i % len(prefixes)]}"),
        "staff_page": get(admin, lambda i: f"/referrals/{info['staff_uuid']}/"),
        "review_page": get(ir, lambda i: f"/referrals/{info['review_uuid']}/"),
        "dashboard": get(heavy, lambda i: "/referrals/"),
        JSON: lambda i: referrer.post_json("/bench/json/", pool[i % len(pool)]),
        "eligibility": lambda i: referrer.post_json("/api/eligibility", pool[i % len(pool)]),
        "autosave": lambda i: referrer.post_form(
            f"/referrals/{autosave}/autosave/patient/", info["autosave_form"], expect=(200,)
        ),
        "accept": accept,
        UPLOAD: lambda i: uploader.post_file(
            "/bench/upload/", {"kind": "clinical_notes"}, "file", pdf, expect=(200,)
        ),
        "upload_pdf": lambda i: uploader.post_file(
            f"/referrals/{upload_draft}/documents/", {"kind": "clinical_notes"}, "file", pdf
        ),
    }  # fmt: skip
    return [
        {"size": size, "key": key, "name": name, "baseline": base, "target": target,
         "call": calls[key]}
        for key, name, base, target in SCENARIOS
    ]  # fmt: skip


def shown(scenarios: list[dict]) -> dict:
    """What each page showed once (rows in its table, bytes), so a result is never of an empty
    or refused page. Calls each scenario once."""
    out = {}
    for s in scenarios:
        response = s["call"](0)
        body = response.body.decode(errors="replace")
        start, end = body.find("<tbody"), body.find("</tbody>")
        rows = body.count("<tr", start, end) if start >= 0 else 0
        if s["key"] in PAGES or s["key"] in (LEAN, TABLE):
            out[(s["size"], s["key"])] = f"{rows} rows, {len(body) // 1024} KB"
        else:
            out[(s["size"], s["key"])] = f"HTTP {response.status}, {len(body):,} bytes"
    return out


def measure(scenarios: list[dict], *, runs: int, rounds: int, log) -> dict:
    """{(size, key): [[seconds of run 1], [run 2], ...]}, interleaved as the module says."""
    rng = random.Random(5)
    timings = {(s["size"], s["key"]): [[] for _ in range(runs)] for s in scenarios}
    order = list(scenarios)
    counter = itertools.count(1000)
    for _ in range(5):  # warm-up: connections, caches, templates
        for s in order:
            s["call"](next(counter))
    deadline = time.monotonic() + 1800
    for run in range(runs):
        log(f"latency run {run + 1} of {runs}: {rounds} rounds of {len(order)} requests")
        for _round in range(rounds):
            if time.monotonic() > deadline:
                raise RequestFailed("the latency phase passed its 30-minute bound")
            rng.shuffle(order)
            for s in order:
                response = s["call"](next(counter))
                timings[(s["size"], s["key"])][run].append(response.seconds)
    return timings


def p50(values) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.5 * len(ordered)) - 1)]


def pct(values, p) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ratio_runs(timings: dict, size: int, key: str, base: str) -> list[float]:
    """The ratio of `key` to `base` at `size` in each run."""
    return [
        p50(a) / p50(b)
        for a, b in zip(timings[(size, key)], timings[(size, base)], strict=True)
        if a and b
    ]


def growth_runs(timings: dict, small: int, large: int, key: str) -> list[float]:
    return [
        p50(a) / p50(b)
        for a, b in zip(timings[(large, key)], timings[(small, key)], strict=True)
        if a and b
    ]


def spread(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.2f}x ({min(values):.2f}–{max(values):.2f})"


def report(timings: dict, shown_: dict, sizes: list[int], *, runs: int, rounds: int) -> tuple:
    """The pages section of RESULTS.md and its misses [(key, name, what)]."""
    large = max(sizes)
    small = min(sizes)
    lines = [
        "## Pages, the API and the writes",
        "",
        f"{runs} runs of {rounds} rounds; each round requests every scenario"
        + (" at both sizes" if len(sizes) > 1 else "")
        + " once, shuffled, one request at a time. p50 and p95 are over every run; a ratio is "
        "the median of the runs' ratios (p50 over the baseline's p50 in the same run), with "
        "the lowest and highest run in brackets. Targets are against the lean baseline (the "
        "queue's columns as values_list tuples, printed as they come), checked at the largest "
        "N; the ratio to the first baseline (model instances, dates formatted) is shown beside "
        "it for comparison with earlier runs.",
        "",
    ]
    misses = []
    for size in sorted(sizes):
        lines += [
            f"### N = {size:,}",
            "",
            "| scenario | shown | p50 ms | p95 ms | ratio (spread) | baseline | to the first "
            "table | target | result |",
            "| --- | --- | ---: | ---: | --- | --- | --- | --- | --- |",
        ]
        for key, name, base, target in SCENARIOS:
            every = [t for run in timings[(size, key)] for t in run]
            ratios = ratio_runs(timings, size, key, base) if base else []
            to_table = spread(ratio_runs(timings, size, key, TABLE)) if base == LEAN else "—"
            ok = None
            if target is not None and ratios and size == large:
                ok = statistics.median(ratios) <= target
                if not ok:
                    what = f"{statistics.median(ratios):.2f}x against ≤ {target}x"
                    misses.append((key, f"{name} (N = {size:,})", what))
            verdict = "n/a" if ok is None else ("**PASS**" if ok else "**MISS**")
            lines.append(
                f"| {name} | {shown_.get((size, key), '')} | {p50(every) * 1000:,.1f} | "
                f"{pct(every, 95) * 1000:,.1f} | {spread(ratios) if base else 'baseline'} | "
                f"{base or '—'} | {to_table} | {f'≤ {target}x' if target else '—'} | {verdict} |"
            )
        lines.append("")
    if len(sizes) > 1:
        lines += [
            f"### Growth: N = {large:,} over N = {small:,}",
            "",
            "The p50 at the larger size over the p50 at the smaller, in each run (the two sizes "
            "are served by two gunicorns side by side and requested in the same rounds); the "
            "target is at most 1.2 for every page.",
            "",
            f"| scenario | p50 ms at {small:,} | p50 ms at {large:,} | growth (spread) | target "
            "| result |",
            "| --- | ---: | ---: | --- | --- | --- |",
        ]
        for key, name, _base, _target in SCENARIOS:
            g = growth_runs(timings, small, large, key)
            a = p50([t for run in timings[(small, key)] for t in run])
            b = p50([t for run in timings[(large, key)] for t in run])
            ok = None
            if key in PAGES and g:
                ok = statistics.median(g) <= 1.2
                if not ok:
                    misses.append((key + "_growth", f"{name}: growth",
                                   f"{statistics.median(g):.2f}x against ≤ 1.2x"))  # fmt: skip
            verdict = "n/a" if ok is None else ("**PASS**" if ok else "**MISS**")
            lines.append(
                f"| {name} | {a * 1000:,.1f} | {b * 1000:,.1f} | {spread(g)} | "
                f"{'≤ 1.2x' if key in PAGES else '—'} | {verdict} |"
            )
        lines.append("")
    return lines, misses
