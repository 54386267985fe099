//! Compiles `bpf/scry.bpf.c` with clang and generates the libbpf skeleton
//! `$OUT_DIR/scry.skel.rs`, included by `src/lib.rs` as `skel`.
//!
//! Environment: `CLANG` picks the compiler (default `clang` on `PATH`),
//! `BPF_CFLAGS` adds whitespace-separated clang arguments.

use std::env;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;
use std::process::ExitCode;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "bpf/scry.bpf.c";
const HEADERS: &[&str] = &["bpf/abi.h", "bpf/syscall_nr.h", "bpf/vmlinux.h"];

fn main() -> ExitCode {
    match build() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The kernel's name for a Rust target architecture: the directory under
/// `bpf/vmlinux/`.
fn kernel_arch(target_arch: &str) -> &str {
    match target_arch {
        "x86_64" => "x86",
        "aarch64" => "arm64",
        "riscv64" => "riscv",
        "s390x" => "s390",
        "powerpc64" => "powerpc",
        "loongarch64" => "loongarch",
        other => other,
    }
}

fn build() -> Result<(), String> {
    println!("cargo:rerun-if-env-changed=CLANG");
    println!("cargo:rerun-if-env-changed=BPF_CFLAGS");
    println!("cargo:rerun-if-changed={SRC}");
    for header in HEADERS {
        println!("cargo:rerun-if-changed={header}");
    }

    let target_arch = env::var("CARGO_CFG_TARGET_ARCH").map_err(|e| e.to_string())?;
    let arch = kernel_arch(&target_arch);
    let vmlinux_dir = PathBuf::from("bpf/vmlinux").join(arch);
    let vmlinux = vmlinux_dir.join("vmlinux.h");
    println!("cargo:rerun-if-changed={}", vmlinux.display());
    if !vmlinux.is_file() {
        return Err(format!(
            "no vendored {} for target arch {target_arch}: see probe/README.md to generate it",
            vmlinux.display()
        ));
    }

    let clang = env::var_os("CLANG").unwrap_or_else(|| OsString::from("clang"));
    if Command::new(&clang).arg("--version").output().is_err() {
        return Err(format!(
            "cannot run `{}`: scry-probe compiles its BPF programs with clang. \
             Install it with `apt-get install clang libelf-dev zlib1g-dev` (or run `make deps`), \
             or point the CLANG environment variable at a clang binary.",
            clang.to_string_lossy()
        ));
    }

    let mut args: Vec<OsString> = vec![
        OsString::from("-I"),
        vmlinux_dir.into_os_string(),
        OsString::from("-Wall"),
    ];
    if let Some(extra) = env::var_os("BPF_CFLAGS") {
        args.extend(
            extra
                .to_string_lossy()
                .split_whitespace()
                .map(OsString::from),
        );
    }

    let out =
        PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?).join("scry.skel.rs");
    SkeletonBuilder::new()
        .source(SRC)
        .clang(&clang)
        .clang_args(args)
        .reference_obj(true)
        .build_and_generate(&out)
        .map_err(|e| format!("building the BPF skeleton from {SRC}: {e:#}"))
}
