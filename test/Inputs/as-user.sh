#!/bin/sh
# Runs a command as an unprivileged user when root (root ignores permission
# bits), else as is.
if [ "$(id -u)" = 0 ]; then
  exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
fi
exec "$@"
