#!/bin/sh
# pkg-config with a useful failure: names the Debian package to install.
# usage: pkg.sh --cflags|--libs MODULE...
set -u
flag=$1; shift
for m in "$@"; do
    if ! pkg-config --exists "$m" 2>/dev/null; then
        case $m in
            libarchive) p=libarchive-dev ;; libzstd) p=libzstd-dev ;;
            libcjson) p=libcjson-dev ;; lua5.4) p=liblua5.4-dev ;;
            check) p=check ;; *) p="(unknown)" ;;
        esac
        echo "peeka: missing dependency '$m' (Debian package $p); run 'make deps'" >&2
        echo "__PEEKA_MISSING_DEP__"
        exit 1
    fi
done
exec pkg-config "$flag" "$@"
