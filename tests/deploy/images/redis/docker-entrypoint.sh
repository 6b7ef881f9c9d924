#!/bin/sh
# Like the official image: without a config file redis refuses other containers
# (protected mode), so open it unless the command says otherwise; drop root.
set -e
if [ "$1" = "redis-server" ]; then
    case " $* " in
        *" --protected-mode "*) ;;
        *) set -- "$@" --protected-mode no ;;
    esac
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
