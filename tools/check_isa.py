#!/usr/bin/env python3
"""Checks that AVX2 / AVX-512 instructions stay inside their ISA's kernels (objdump required).

    tools/check_isa.py [BUILD_DIR] [MODULE]      (defaults: build/dev, python/fastcnn/_C*.so)

Each file of cpu/kernels and cpu/gemm is compiled once per ISA (CMakeLists.txt). A CPU without
AVX-512 must never execute an EVEX-encoded instruction, one without AVX2 never a VEX one. Checked:
  1. the baseline objects hold no VEX or EVEX instruction, the avx2 objects no EVEX one;
  2. in the avx2 and avx512 objects, functions with VEX/EVEX code that are shared inline functions
     (weak symbols: std::vector<...>::..., not in fastcnn::cpu::<isa>::) are listed: the linker keeps
     one copy of each for the whole module, and it must be the baseline object's (step 4);
  3. the avx512 GEMM microkernel computes on ZMM registers (vfmadd...ps ...%zmm);
  4. the linked module holds exactly the VEX and EVEX instructions of those ISA functions, so no
     other code (the common module code, the link's choice of shared functions) has any.
Prints a summary; exit status 1 on any failure.
"""
from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from collections import Counter

LEGACY_PREFIXES = {0x66, 0x67, 0xF2, 0xF3, 0x2E, 0x3E, 0x26, 0x36, 0x64, 0x65, 0xF0}
FUNC = re.compile(r"^[0-9a-f]+ <(.*)>:$")
INSN = re.compile(r"^\s*[0-9a-f]+:\t([0-9a-f ]+)\t(.*)$")


def encoding(hex_bytes: str) -> str | None:
    """'evex', 'vex' or None for one instruction's bytes (64-bit mode: 0x62 is EVEX, 0xc4/0xc5 VEX)."""
    for b in (int(x, 16) for x in hex_bytes.split()):
        if b in LEGACY_PREFIXES:
            continue
        return "evex" if b == 0x62 else "vex" if b in (0xC4, 0xC5) else None
    return None


def scan(path: str):
    """{function: Counter(evex=, vex=, zmm_fma=)} of an object or module (demangled names)."""
    out = subprocess.run(["objdump", "-d", "-C", "--insn-width=16", path], capture_output=True, text=True,
                         check=True).stdout
    funcs: dict[str, Counter] = {}
    current = funcs.setdefault("<no symbol>", Counter())
    for line in out.splitlines():
        m = FUNC.match(line)
        if m:
            current = funcs.setdefault(m.group(1), Counter())
            continue
        m = INSN.match(line)
        if not m:
            continue
        enc = encoding(m.group(1))
        if enc:
            current[enc] += 1
            if enc == "evex" and m.group(2).startswith("vfmadd") and "ps" in m.group(2) and "%zmm" in m.group(2):
                current["zmm_fma"] += 1
    return funcs


def weak_symbols(path: str) -> set[str]:
    out = subprocess.run(["nm", "-C", "--defined-only", path], capture_output=True, text=True, check=True).stdout
    return {line[19:] for line in out.splitlines() if len(line) > 19 and line[17] in "WVu"}


def main(argv):
    build = argv[1] if len(argv) > 1 else "build/dev"
    module = argv[2] if len(argv) > 2 else (glob.glob("python/fastcnn/_C*.so") or [None])[0]
    failures, shared_isa_code = [], []
    isa_total = Counter()
    for isa in ("baseline", "avx2", "avx512"):
        objects = sorted(glob.glob(os.path.join(build, "CMakeFiles", f"fastcnn_kernels_{isa}.dir", "**", "*.o"),
                                   recursive=True))
        if not objects and isa == "baseline":
            failures.append(f"no baseline kernel objects under {build}")
        own = f"fastcnn::cpu::{isa}::"
        count = Counter()
        shared_seen = set()  # weak (inline, template) functions: the link keeps one copy
        for obj in objects:
            weak = weak_symbols(obj)
            for name, c in scan(obj).items():
                count.update(c)
                if isa != "baseline" and (c["vex"] or c["evex"]) and own not in name and name in weak:
                    shared_isa_code.append(f"{isa}/{os.path.basename(obj)}: {name}: "
                                           f"{c['vex']} VEX / {c['evex']} EVEX instructions")
                if own in name and not (name in weak and name in shared_seen):
                    isa_total.update({k: v for k, v in c.items() if k in ("vex", "evex")})
                    if name in weak:
                        shared_seen.add(name)
                if isa == "avx512" and ("micro_kernel" in name or "gemm_block" in name):
                    count["gemm_zmm_fma"] += c["zmm_fma"]
        print(f"{isa:8s} {len(objects):2d} objects: {count['vex']:6d} VEX, {count['evex']:6d} EVEX instructions")
        if isa == "baseline" and (count["vex"] or count["evex"]):
            failures.append("baseline objects contain VEX/EVEX instructions")
        if isa == "avx2" and count["evex"]:
            failures.append("avx2 objects contain EVEX (AVX-512) instructions")
        if isa == "avx512" and objects:
            print(f"         avx512 GEMM microkernel: {count['gemm_zmm_fma']} ZMM FMA instructions")
            if count["gemm_zmm_fma"] < 16:
                failures.append("the avx512 GEMM microkernel has no ZMM FMA instructions")
    if module:
        total = Counter()
        for c in scan(module).values():
            total.update(c)
        print(f"module   {os.path.basename(module)}: {total['vex']} VEX, {total['evex']} EVEX instructions; "
              f"the ISA kernels hold {isa_total['vex']} VEX, {isa_total['evex']} EVEX")
        if (total["vex"], total["evex"]) != (isa_total["vex"], isa_total["evex"]):
            failures.append("the module's VEX/EVEX instructions are not exactly those of the ISA kernels")
    else:
        print("module   not found: step 4 skipped")
    if shared_isa_code:
        # Not a failure by itself: the link keeps the baseline object's copy (link order, step 4)
        (print if module else failures.append)(
            "shared inline functions compiled with ISA instructions (the module must not keep these copies):\n  "
            + "\n  ".join(shared_isa_code))
    for f in failures:
        print("FAIL", f)
    print("ok" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
