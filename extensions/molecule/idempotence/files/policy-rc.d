#!/bin/sh
# patchwise test host: package scripts never start or restart services (no init system).
exit 101
