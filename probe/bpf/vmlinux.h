/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Dispatcher for the vendored, per-architecture vmlinux.h.
 *
 * build.rs passes `-I bpf/vmlinux/<kernel arch>` (x86, arm64, ...), chosen
 * from CARGO_CFG_TARGET_ARCH, so the angle-bracket include below resolves to
 * bpf/vmlinux/<arch>/vmlinux.h. See probe/README.md to regenerate a copy.
 */
#ifndef SCRY_VMLINUX_DISPATCH_H
#define SCRY_VMLINUX_DISPATCH_H

#if !__has_include(<vmlinux.h>)
#error "scry-probe: no vendored vmlinux.h on the include path; build.rs must pass -I bpf/vmlinux/<arch> (see probe/README.md)"
#endif
#include <vmlinux.h>

#endif /* SCRY_VMLINUX_DISPATCH_H */
