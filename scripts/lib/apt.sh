# Shared by the scripts that reach a Debian suite other than the machine's own; sourced.

# write_suite_sources FILE SUITE [MIRROR]: an apt source (deb822) for Debian's SUITE, main
# component, signed by Debian's archive keyring, written to FILE.
write_suite_sources() {
	local file=$1 suite=$2 mirror=${3:-http://deb.debian.org/debian}
	cat >"$file" <<SRC
Types: deb
URIs: $mirror
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
}
