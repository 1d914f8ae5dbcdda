#!/bin/sh
# Set everything up and run svcbrokerd on its embedded default configuration
# (etc/svcbroker.ini: the mapi-stub local message store, two mailboxes).
#
#   scripts/quickstart.sh
#
# Installs the dependencies (Debian 12), builds into build/, installs into
# build/prefix, prints how to try it, and runs the daemon in the foreground
# on 127.0.0.1:8780 until Ctrl-C.  SB_BUILD_DIR overrides the build
# directory (an existing, configured build is reused as it is).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bdir=${SB_BUILD_DIR:-$top/build}

"$top/scripts/deps.sh"
"$top/scripts/build.sh" "$bdir"
make -C "$bdir" install >/dev/null
prefix=$(sed -n 's/^prefix = //p' "$bdir/Makefile")
cli="$prefix/bin/svcbroker"
conf="$top/etc/svcbroker.ini"

"$prefix/sbin/svcbrokerd" --check -c "$conf"

cat <<EOT

svcbrokerd is starting on http://127.0.0.1:8780 with $conf
(mapi-stub store under $top/var).  Try it from another terminal:

  \$ $cli catalog
  \$ $cli call local/Email.Send Mailbox=alice@example.test To=bob@example.test Subject='Hello Bob' Body='First message through svcbroker.'
  \$ $cli call local/Email.List Mailbox=bob@example.test Folder=Inbox

Stop the daemon with Ctrl-C.
EOT
exec "$prefix/sbin/svcbrokerd" -c "$conf"
