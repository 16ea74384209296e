#!/bin/sh
# Fails when C sources use a call the project bans (STYLE.md 2.10), or when a library other than
# gateway/ includes uv.h or libwebsockets.h, or code outside db/ calls blocking libpq.
set -u
cd "$(dirname "$0")/../.."
status=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.c' -o -name '*.h')
banned='strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok|alloca|rand|system|popen|tmpnam|mktemp|localtime|gmtime|ctime|asctime'
hits=$(printf '%s\n' $files | xargs -r grep -nE "(^|[^_a-zA-Z0-9.>])($banned)[[:space:]]*\(" | grep -vE '^\S+:[0-9]+:\s*(/\*|\*)' )
if [ -n "$hits" ]; then
	echo "banned calls:"; echo "$hits"; status=1
fi
libs=$(printf '%s\n' $files | grep -E '^(db|policy|smsc-adapter|pcsc)/src|^(db|policy|smsc-adapter|pcsc)/include')
hits=$(printf '%s\n' $libs | grep -v carrier-sim | xargs -r grep -nE '#include <(uv|libwebsockets)\.h>')
if [ -n "$hits" ]; then
	echo "uv.h / libwebsockets.h outside gateway/:"; echo "$hits"; status=1
fi
hits=$(printf '%s\n' $files | grep -v '^db/' | xargs -r grep -nE '\b(PQexec|PQexecParams|PQprepare|PQconnectdb|PQconnectdbParams)\(')
if [ -n "$hits" ]; then
	echo "blocking libpq outside db/:"; echo "$hits"; status=1
fi
[ $status = 0 ] && echo "banned.sh: clean"
exit $status
