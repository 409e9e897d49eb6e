"""The build of the native line scanner; everything else is in setup.cfg.

The extension is optional: where it cannot be compiled, jsonfilter still
installs and runs, on its pure-Python fast path (see json_mapper/batch.py).

JSONFILTER_SANITIZE=1 builds it with AddressSanitizer and UBSan, failing on
the first report (.ci/sanitize runs the scanner's tests that way).
"""
import os
import sys

from setuptools import Extension, setup

# Never a fused multiply-add: the kernels built for instruction sets that
# have one (AVX-512) could otherwise fuse a product of the exact conversions
# with the sum after it, rounding once where Python rounds twice.
compile_args = [] if sys.platform == "win32" else ["-ffp-contract=off"]
link_args = []
if os.environ.get("JSONFILTER_SANITIZE") == "1":
    sanitize = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"]
    compile_args += sanitize + ["-O1", "-g"]
    link_args += sanitize

setup(ext_modules=[Extension(
    "json_mapper._scan", ["json_mapper/_scan.c"],
    depends=["json_mapper/_numbers.h", "json_mapper/_pow10.h", "json_mapper/_kernel.h"],
    extra_compile_args=compile_args, extra_link_args=link_args, optional=True)])
