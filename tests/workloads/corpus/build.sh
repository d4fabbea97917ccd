#!/bin/sh
# build.sh OUTDIR - build the soundness corpus (no binaries are committed).
#   corpus_c_lazy, corpus_c_now  (the same program, lazy and immediate binding)
#   corpus_cxx, corpus_plugin.so
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
cflags="-O1 -g -fno-inline -fno-omit-frame-pointer -Wall -Wextra -Werror"
cc $cflags -fPIC -shared -o "$out/corpus_plugin.so" "$here/corpus_plugin.c"
cc $cflags -o "$out/corpus_c_lazy" "$here/corpus_c.c" -Wl,-z,lazy -ldl -lpthread -lm
cc $cflags -o "$out/corpus_c_now" "$here/corpus_c.c" -Wl,-z,now -ldl -lpthread -lm
c++ $cflags -o "$out/corpus_cxx" "$here/corpus_cxx.cc"
