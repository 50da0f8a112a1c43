#!/bin/sh
# pulumi-language-python: front of the Python language host built from sdk/v3@LANGHOST_FALLBACK_SDK.
#
# Installed by toolchain/build.sh only when the host had to be built from that old sdk
# release (see toolchain/README.md). That host predates the CLI passing runtime options over
# RPC: it never sees `runtime.options.virtualenv` of Pulumi.yaml and would run the system python.
# The CLI starts the language host in the project directory, so this front reads the option there
# and points the host at the virtualenv's python (PULUMI_PYTHON_CMD, which the host honours) with
# the virtualenv activated, as today's host does. An explicit PULUMI_PYTHON_CMD wins.
here=$(dirname "$0")
if [ -z "${PULUMI_PYTHON_CMD:-}" ]; then
    for f in Pulumi.yaml Pulumi.yml; do
        [ -f "$f" ] || continue
        venv=$(sed -n 's/^[[:space:]]*virtualenv:[[:space:]]*//p' "$f" | head -n 1 | sed 's/[[:space:]]*#.*$//; s/^["'\'']//; s/["'\'']$//')
        if [ -n "$venv" ]; then
            case $venv in /*) ;; *) venv=$PWD/$venv ;; esac
            if [ -x "$venv/bin/python" ]; then
                PULUMI_PYTHON_CMD=$venv/bin/python
                VIRTUAL_ENV=$venv
                PATH=$venv/bin:$PATH
                export PULUMI_PYTHON_CMD VIRTUAL_ENV PATH
            fi
        fi
        break
    done
fi
exec "$here/pulumi-language-python-host" "$@"
