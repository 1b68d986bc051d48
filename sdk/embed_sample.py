#!/usr/bin/env python3
"""Writes a header holding a plugin's sample.toml as `vitals_sample_toml`.

    embed_sample.py sample.toml sample_toml.h

The plugin sets `sample_config = vitals_sample_toml`, so `vitals plugins
--describe` prints exactly the file its README shows. Installed with the SDK
(pkg-config --variable=embed_sample vitals-sdk) for out-of-tree plugins.
"""
import sys

if len(sys.argv) != 3:
    sys.exit("usage: embed_sample.py SAMPLE_TOML OUTPUT_HEADER")
src, dst = sys.argv[1], sys.argv[2]
text = open(src, encoding="utf-8").read()
delimiter = "VITALS_SAMPLE"
# The text goes into a raw string literal, which this sequence would end.
if f"){delimiter}\"" in text:
    sys.exit(f'{src}: contains ){delimiter}", which cannot be embedded')
with open(dst, "w", encoding="utf-8") as out:
    out.write("// Generated from sample.toml; do not edit.\n#pragma once\n")
    out.write(f'inline constexpr const char vitals_sample_toml[] = R"{delimiter}({text}){delimiter}";\n')
