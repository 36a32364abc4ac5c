#!/bin/sh
# configure.sh HOME_DIR CONFIG_FILE
# Writes $QDROUTERD_CONF to CONFIG_FILE: inline text when it contains {...}, otherwise a
# ':' or ',' separated list of files and directories (each directory's *.conf, in order),
# concatenated. Then expands $VAR and ${VAR} on every non-comment line.
HOME_DIR=$1
CONFIG_FILE=$2

[ -n "$QDROUTERD_CONF" ] || exit 0
rm -f "$CONFIG_FILE"
case "$QDROUTERD_CONF" in
    *\{*\}*)
        printf '%s\n' "$QDROUTERD_CONF" >"$CONFIG_FILE"
        ;;
    *)
        : >"$CONFIG_FILE"
        old_ifs=$IFS
        IFS=':,'
        for entry in $QDROUTERD_CONF; do
            IFS=$old_ifs
            if [ -d "$entry" ]; then
                for f in "$entry"/*.conf; do
                    [ -f "$f" ] && cat "$f" >>"$CONFIG_FILE"
                done
            elif [ -f "$entry" ]; then
                cat "$entry" >>"$CONFIG_FILE"
            else
                echo "configure.sh: $entry: no such file or directory" >&2
                exit 1
            fi
        done
        IFS=$old_ifs
        ;;
esac
exec python3 "$HOME_DIR/bin/expandvars.py" "$CONFIG_FILE"
