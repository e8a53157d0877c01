#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# attach --container's end-to-end suite, where test_vm.sh decides (here or in QEMU).
exec "$(dirname "$0")/test_vm.sh" "$(cd "$(dirname "$0")" && pwd)/vm/test_container.sh"
