#!/usr/bin/env bash
# Usage: interop/venv.sh — makes the Python virtual environment of the interop suite and
# the benchmark, .venv/ in the checkout (git-ignored), and installs the pinned packages
# of interop/requirements.txt into it; prints the path of its python. The machine's own
# Python packages are never touched (Debian's python3 refuses `pip install` anyway,
# PEP 668). When `python3 -m venv` cannot make one (Debian without python3-venv), it
# installs python3-venv with apt. Packages are installed again only when
# requirements.txt changed; a venv whose python is gone is made anew.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$root/.venv
requirements=$root/interop/requirements.txt

make_venv() {
	rm -rf "$venv"
	python3 -m venv "$venv" >/dev/null 2>&1
}

if ! "$venv/bin/python" -c '' 2>/dev/null; then
	bash "$root/interop/need.sh" python3 python3
	if ! make_venv; then
		echo "venv.sh: python3 -m venv failed; installing python3-venv" >&2
		bash "$root/interop/need.sh" --packages python3-venv
		make_venv || {
			rm -rf "$venv"
			python3 -m venv "$venv" >&2 || true
			echo "venv.sh: FAILED to make a virtual environment with $(command -v python3)" >&2
			exit 1
		}
	fi
fi
if ! cmp -s "$requirements" "$venv/installed-requirements.txt"; then
	"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
	cp "$requirements" "$venv/installed-requirements.txt"
fi
echo "$venv/bin/python"
