#!/bin/bash
# workload.sh NAME [PORT] - start one lab workload inside the CRIU root
# (tests/criu/dump-workload.sh runs it there as its WORKLOAD, next to the
# corpus files given with --lib).  It ends by exec'ing the real program,
# so the dumped process is that program itself, with cwd /dump/run and
# stdout/stderr in wl.out; programs fed with data read the FIFO
# /dump/run/in.fifo (opened read-write: it never sees end of file, and
# the lab writes into it before the dump and after the restore).
set -u
dir=$(dirname "$0")
name=${1:?usage: workload.sh NAME [PORT]}
fifo_stdin() { mkfifo in.fifo && exec 0<>in.fifo || exit 1; }
case $name in
c_lazy|c_now|cxx)
	PLUGIN=$dir/corpus_plugin.so exec "$dir/corpus_$name" ;;   # prints "ready"
python_numpy)
	exec /usr/bin/python3 -u "$dir/py_numpy.py" ;;               # prints "ready"
redis)
	# redis prints "Ready to accept connections" once it listens.
	exec redis-server --port "${2:?redis needs a port}" --bind 127.0.0.1 --save "" \
		--appendonly no --daemonize no --dir /dump/run ;;
sqlite3)
	fifo_stdin
	echo ready
	exec sqlite3 :memory: ;;
gzip|zstd|xz)
	fifo_stdin
	echo ready
	exec "$name" -c >/dev/null ;;
openssl)
	echo ready
	exec openssl speed -seconds 2 sha256 sha512 aes-128-cbc rsa2048 ecdsap256 ;;
*)
	echo "workload.sh: unknown workload $name" >&2
	exit 2 ;;
esac
