#!/usr/bin/env python3
"""Reads a HAR file with PyPI haralyzer and prints what tests/policy.rs checks.

usage: policy_har.py FILE.har

Loads the file with haralyzer.HarParser.from_file, walks every page's entries
through haralyzer's HarEntry/Request/Response properties, and checks the fields
HAR 1.2 requires (types included). Prints one JSON object:
  {"version", "creator", "problems": [...],
   "entries": [{"method", "url", "httpVersion", "status", "statusText",
                "request_headers": [[n, v]], "response_headers": [[n, v]],
                "queryString": [[n, v]], "postData": text or null,
                "content_text", "content_size", "content_mimeType",
                "content_encoding", "started_us", "time"}]}
Exits 1 (with the error) when haralyzer cannot load the file.
"""

import json
import sys

from haralyzer import HarParser

NUM = (int, float)


def need(problems, obj, key, types, where):
    if not isinstance(obj, dict) or key not in obj:
        problems.append("%s: missing %s" % (where, key))
        return None
    value = obj[key]
    tys = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, tys) or (isinstance(value, bool) and bool not in tys):
        problems.append("%s.%s: wrong type %s" % (where, key, type(value).__name__))
    return obj[key]


def check_nv_list(problems, lst, where):
    if not isinstance(lst, list):
        return
    for i, item in enumerate(lst):
        need(problems, item, "name", str, "%s[%d]" % (where, i))
        need(problems, item, "value", str, "%s[%d]" % (where, i))


def check_entry(problems, e, i):
    w = "entries[%d]" % i
    need(problems, e, "startedDateTime", str, w)
    need(problems, e, "time", NUM, w)
    need(problems, e, "cache", dict, w)
    t = need(problems, e, "timings", dict, w)
    for k in ("send", "wait", "receive"):
        need(problems, t or {}, k, NUM, w + ".timings")
    req = need(problems, e, "request", dict, w) or {}
    wr = w + ".request"
    for k, ty in (("method", str), ("url", str), ("httpVersion", str), ("cookies", list),
                  ("headers", list), ("queryString", list), ("headersSize", int),
                  ("bodySize", int)):
        need(problems, req, k, ty, wr)
    check_nv_list(problems, req.get("headers"), wr + ".headers")
    check_nv_list(problems, req.get("queryString"), wr + ".queryString")
    if "postData" in req:
        need(problems, req["postData"], "mimeType", str, wr + ".postData")
    resp = need(problems, e, "response", dict, w) or {}
    wp = w + ".response"
    for k, ty in (("status", int), ("statusText", str), ("httpVersion", str), ("cookies", list),
                  ("headers", list), ("content", dict), ("redirectURL", str),
                  ("headersSize", int), ("bodySize", int)):
        need(problems, resp, k, ty, wp)
    check_nv_list(problems, resp.get("headers"), wp + ".headers")
    content = resp.get("content") or {}
    need(problems, content, "size", int, wp + ".content")
    need(problems, content, "mimeType", str, wp + ".content")


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: policy_har.py FILE.har")
    try:
        har = HarParser.from_file(sys.argv[1])
    except Exception as e:
        print("haralyzer cannot load %s: %s: %s" % (sys.argv[1], type(e).__name__, e),
              file=sys.stderr)
        sys.exit(1)
    log = har.har_data
    problems = []
    need(problems, log, "version", str, "log")
    creator = need(problems, log, "creator", dict, "log") or {}
    need(problems, creator, "name", str, "log.creator")
    need(problems, creator, "version", str, "log.creator")
    raw_entries = need(problems, log, "entries", list, "log") or []
    for i, e in enumerate(raw_entries):
        check_entry(problems, e, i)
    out = []
    seen = 0
    for page in har.pages:
        for entry in page.entries:
            seen += 1
            req, resp = entry.request, entry.response
            post = req.raw_entry.get("postData")
            content = resp.raw_entry.get("content", {})
            started = entry.startTime
            out.append({
                "method": req.method,
                "url": entry.url,
                "httpVersion": req.httpVersion,
                "status": entry.status,
                "statusText": resp.statusText,
                "request_headers": [[h["name"], h["value"]] for h in req.headers],
                "response_headers": [[h["name"], h["value"]] for h in resp.headers],
                "queryString": [[q["name"], q["value"]] for q in req.queryString],
                "postData": post.get("text") if isinstance(post, dict) else None,
                "content_text": content.get("text"),
                "content_size": resp.contentSize,
                "content_mimeType": resp.mimeType,
                "content_encoding": content.get("encoding"),
                "started_us": round(started.timestamp() * 1_000_000) if started else None,
                "time": entry.time,
            })
    if seen != len(raw_entries):
        problems.append("haralyzer pages hold %d entries, log.entries has %d"
                        % (seen, len(raw_entries)))
    print(json.dumps({"version": har.version, "creator": har.creator, "problems": problems,
                      "entries": out}))


if __name__ == "__main__":
    main()
