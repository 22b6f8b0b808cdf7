#!/usr/bin/env python3
"""Scrapes a Prometheus endpoint and parses it with prometheus_client's own text parser.

Prints one JSON object: {"name{label=value,...}": value} for every sample, labels sorted.
Exits 1 with the reason on stderr when the endpoint cannot be read or its text does not parse."""
import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main():
    url = sys.argv[1]
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode("utf-8")
            content_type = response.headers.get("Content-Type", "")
    except Exception as error:
        print(f"cannot scrape {url}: {error}", file=sys.stderr)
        sys.exit(1)
    samples = {"__content_type__": content_type}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    print(json.dumps(samples))


if __name__ == "__main__":
    main()
