#!/usr/bin/env python3
"""Writes a header holding a plugin's sample.toml as `vitals_sample_toml`."""
import sys

src, dst = sys.argv[1], sys.argv[2]
text = open(src, encoding="utf-8").read()
delimiter = "VITALS_SAMPLE"
assert f"){delimiter}\"" not in text
with open(dst, "w", encoding="utf-8") as out:
    out.write("// Generated from sample.toml; do not edit.\n#pragma once\n")
    out.write(f'inline constexpr const char vitals_sample_toml[] = R"{delimiter}({text}){delimiter}";\n')
