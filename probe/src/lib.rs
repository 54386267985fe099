//! scry-probe owns the kernel side of the capture: the CO-RE BPF programs,
//! the ABI header they share with user space, the vendored `vmlinux.h`, and
//! the build step that compiles them into a libbpf skeleton. It is the only
//! crate that needs clang.
