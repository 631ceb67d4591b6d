#!/bin/sh
# Builds tools/landmarks68/landmarks68 (needs Debian libdlib-dev, libdlib-data).
set -e
cd "$(dirname "$0")"
g++ -O2 -march=x86-64-v2 -std=c++14 -o landmarks68 landmarks68.cpp $(pkg-config --libs dlib-1)
