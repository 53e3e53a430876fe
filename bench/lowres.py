#!/usr/bin/env python3
"""Read the low-resource ECS task definition for the benchmark.

Prints the sensor container's memory limit in MiB on the first line (the container's
`memory`, else its `memoryReservation`, else the task's `memory`), then the apidump flags
that shape its resource use, one per line, ready for `mapfile`. Flags that only say
where to capture or where to send (interface, filter, satellite, org, env, service
name, CA) are left out: the benchmark sets those for loopback. Settings given as
environment variables (LEVO_RATE_LIMIT, LEVO_TRACE_EXPORT_INTERVAL) become flags.

usage: lowres.py TASK-DEFINITION.json
"""

import json
import sys

# Flags that take a value and are the benchmark's business, not the profile's.
PLACE = {"-i", "--interface", "-r", "--read-file", "--filter", "--satellite-url", "--levo-env",
         "--levoai-org-id", "--service-name", "--ca-cert", "--out", "--log-format",
         "--duration", "--stats-interval", "-c", "--count"}
FLAG_ENV = {"LEVO_RATE_LIMIT": "--rate-limit", "LEVO_RATE_LIMIT_NUMBER": "--rate-limit",
            "LEVO_TRACE_EXPORT_INTERVAL": "--trace-export-interval"}


def containers(doc):
    """(container definitions, task definition) of a task definition, a describe-task-definition
    answer, a list of container definitions or one container definition."""
    if isinstance(doc, dict):
        if "taskDefinition" in doc:
            return containers(doc["taskDefinition"])
        if "containerDefinitions" in doc:
            return doc["containerDefinitions"], doc
        if "entryPoint" in doc or "command" in doc:
            return [doc], {}
        return [], doc
    if isinstance(doc, list):  # a bare list of container definitions
        return doc, {}
    return [], {}


def main():
    doc = json.load(open(sys.argv[1]))
    defs, task = containers(doc)
    sensor = None
    for c in defs:
        words = [str(w) for w in (c.get("entryPoint") or []) + (c.get("command") or [])]
        if "apidump" in words:
            sensor = (c, words)
            break
    if sensor is None:
        sys.exit("no container runs apidump")
    c, words = sensor
    mib = c.get("memory") or c.get("memoryReservation") or task.get("memory")
    if not mib:
        sys.exit("no memory limit")
    args = words[words.index("apidump") + 1:]
    flags = []
    given = set()
    i = 0
    while i < len(args):
        a = args[i]
        name, eq, val = a.partition("=")
        takes = i + 1 < len(args) and not args[i + 1].startswith("-")
        if name in PLACE:
            i += 1 if eq or not takes else 2
            continue
        given.add(name)
        if eq:
            flags += [name, val]
            i += 1
        elif takes:
            flags += [a, args[i + 1]]
            i += 2
        else:
            flags.append(a)
            i += 1
    for e in c.get("environment") or []:
        flag = FLAG_ENV.get(e.get("name"))
        if flag and flag not in given:
            flags += [flag, str(e.get("value"))]
            given.add(flag)
    odd = [f for f in flags if "<" in f or "INSERT" in f]
    if odd:
        sys.exit(f"placeholders left in the flags: {odd}")
    print(int(mib))
    for f in flags:
        print(f)


if __name__ == "__main__":
    main()
