#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# test_vm_run.sh in the 6.12 guest alone (bookworm-backports): make check
# boots each guest as a job of its own, so that two can run at once.
MU_VM_SUITES=bookworm-backports exec "$(dirname "$0")/test_vm_run.sh"
