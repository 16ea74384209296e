#!/bin/sh
# The lint target: clang-format 14 (pinned) dry run over every C file, then banned.sh.
set -u
cd "$(dirname "$0")/../.."
status=0
files=$(git ls-files '*.c' '*.h')
if [ -n "$files" ]; then
	clang-format-14 --dry-run --Werror $files || status=1
fi
tests/lint/banned.sh || status=1
exit $status
