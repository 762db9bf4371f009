#!/bin/sh
# What a careful monit user runs when the HTTP check of the app through nginx fails: restart the app through PM2,
# or start it from the ecosystem file when PM2 no longer knows it (deleted, or the daemon is gone).
# monit runs exec programs with a minimal environment, so everything comes in as arguments (argv, never text):
#   $1 the directory holding pm2, $2 the directory holding node, $3 PM2_HOME, $4 the ecosystem file.
set -u
PATH="$1:$2:/usr/bin:/bin"
PM2_HOME="$3"
export PATH PM2_HOME
pm2 restart web || pm2 start "$4" --only web
