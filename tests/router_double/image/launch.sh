#!/bin/sh
# Container start: assemble the config from $QDROUTERD_CONF, then exec the router as PID 1.
HOME_DIR=${QDROUTERD_HOME:-/home/skrouterd}
CONFIG_FILE=/tmp/skrouterd.${QDROUTERD_CONF_TYPE:-conf}

"$HOME_DIR/bin/configure.sh" "$HOME_DIR" "$CONFIG_FILE" || exit $?
if [ -f "$CONFIG_FILE" ]; then
    exec skrouterd -c "$CONFIG_FILE"
fi
exec skrouterd
