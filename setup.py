"""The build of the native line scanner; everything else is in setup.cfg.

The extension is optional: where it cannot be compiled, jsonfilter still
installs and runs, on its pure-Python fast path (see json_mapper/batch.py).
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension("json_mapper._scan", ["json_mapper/_scan.c"], optional=True)])
