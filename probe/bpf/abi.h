/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The ABI between the scry BPF programs and user space. This header is the
 * single source of truth: libbpf-cargo turns the types below into
 * `scry_probe::skel::types::*` (enums become newtype structs with associated
 * constants), so Rust never mirrors them by hand.
 *
 * Rules: fixed-width integers and u8 arrays only, no bool, no C enum typed
 * fields (enums exist only to export constants). Little-endian host order.
 * Include vmlinux.h before this header.
 *
 * A ring-buffer sample is a batch of one CPU's records, in order, each
 * padded to a multiple of 8 bytes. Record layout:
 *
 *   struct scry_event_header     48 bytes, 8-aligned
 *   nparams x { struct scry_param (4 bytes) ; len bytes of value }
 *
 * Parameters are packed back to back: no padding, so a parameter header or
 * value may be unaligned; decode with from_le_bytes. header.len is the total
 * record size including the header, before the padding.
 *
 * Value encoding per kind:
 *   ABSENT    len 0: not available (NULL pointer, fault, not captured).
 *   INT       8 bytes, s64.           UINT  8 bytes, u64.
 *   FD        8 bytes, s64 (AT_FDCWD is -100; a failed call's ret is < 0).
 *   STR       bytes without the NUL.  A path longer than SCRY_PATH_MAX - 1 is
 *             cut and gets SCRY_PARAM_F_TRUNCATED.
 *   BYTES     raw buffer bytes, at most the snaplen; TRUNCATED when the
 *             syscall moved more bytes than were captured.
 *   SOCKADDR  raw struct sockaddr bytes, family (u16) first.
 *   STRLIST   strings, each one followed by a NUL (the last one too).
 *             TRUNCATED when arguments were left out.
 *
 * Parameters per syscall (order is the contract; `ret` is header.ret):
 *   open, creat          name STR, flags UINT, mode UINT, fd FD=ret
 *                        (creat: flags = O_CREAT|O_WRONLY|O_TRUNC)
 *   openat, openat2      dirfd FD, name STR, flags UINT, mode UINT, fd FD=ret
 *   read, write, readv, writev, recvfrom, sendto, recvmsg, sendmsg
 *                        fd FD, size UINT, data BYTES, addr SOCKADDR|ABSENT
 *                        (read side: min(snaplen, ret) bytes; write side:
 *                        min(snaplen, size); *v and *msg: size is the total
 *                        length of the first SCRY_IOV_MAX iovecs and data is
 *                        gathered across them in order; addr from
 *                        sendto/recvfrom arguments or msghdr.msg_name, else
 *                        ABSENT)
 *   pread64, pwrite64, preadv, pwritev, preadv2, pwritev2
 *                        fd FD, size UINT, pos UINT, data BYTES
 *   close                fd FD
 *   dup, dup2, dup3      oldfd FD, newfd FD (ret for dup), flags UINT
 *   pipe, pipe2          fd1 FD, fd2 FD, flags UINT
 *   socket               domain UINT, type UINT, proto UINT
 *   socketpair           domain UINT, type UINT, proto UINT, fd1 FD, fd2 FD
 *   bind                 fd FD, addr SOCKADDR
 *   listen               fd FD, backlog INT
 *   connect              fd FD, addr SOCKADDR (copied at entry),
 *                        local SOCKADDR (AF_INET/AF_INET6 from the kernel
 *                        socket, else ABSENT)
 *   accept, accept4      fd FD, flags UINT, addr SOCKADDR (peer, from the
 *                        user buffer), local SOCKADDR (like connect)
 *   execve, execveat     dirfd FD, filename STR, args STRLIST, exe STR,
 *                        cwd STR, uid, gid, euid, egid, loginuid, tty,
 *                        cap_effective, cap_permitted, cap_inheritable (UINT),
 *                        cgroup STR, flags UINT
 *                        (filename and args copied at entry; exe and cwd are
 *                        full paths rebuilt from dentries after the call;
 *                        tty is major << 20 | minor, 0 without a tty; cgroup
 *                        is the last component of the task's cgroup v2 path,
 *                        empty for the root cgroup; loginuid 4294967295 when
 *                        unset or without CONFIG_AUDIT)
 *   clone, clone3, fork, vfork
 *                        flags UINT, child_tid INT=ret (also emitted by the
 *                        child with ret 0, flagged SCRY_HDR_NO_ENTER)
 *   exit, exit_group     status INT (emitted at entry: SCRY_HDR_AT_ENTRY)
 *   kill, tkill          pid INT, sig INT
 *   tgkill               tgid INT, tid INT, sig INT
 *   unlink, rmdir        path STR
 *   unlinkat             dirfd FD, name STR, flags UINT
 *   mkdir                path STR, mode UINT
 *   mkdirat              dirfd FD, path STR, mode UINT
 *   rename, link, symlink oldpath STR, newpath STR
 *   renameat, renameat2, linkat
 *                        olddirfd FD, oldpath STR, newdirfd FD, newpath STR,
 *                        flags UINT
 *   symlinkat            target STR, linkdirfd FD, linkpath STR
 *   chmod                filename STR, mode UINT
 *   fchmod               fd FD, mode UINT
 *   fchmodat, fchmodat2  dirfd FD, filename STR, mode UINT, flags UINT
 *   chown, lchown        path STR, uid UINT, gid UINT
 *   fchown               fd FD, uid UINT, gid UINT
 *   fchownat             dirfd FD, pathname STR, uid UINT, gid UINT, flags UINT
 *   mount                dev STR, dir STR, type STR, flags UINT
 *   umount2              name STR, flags UINT
 *   setuid / setgid, setfsuid / setfsgid
 *                        uid / gid UINT
 *   setgroups            size UINT
 *   setreuid / setregid  ruid, euid / rgid, egid UINT
 *   setresuid / setresgid ruid, euid, suid / rgid, egid, sgid UINT
 *   capset               cap_effective, cap_permitted, cap_inheritable UINT
 *                        (the task's credentials after the call)
 *   ptrace               request UINT, pid INT, addr UINT, data UINT
 *   memfd_create         name STR, flags UINT
 *   mmap                 addr, length, prot, flags UINT, fd FD, offset UINT
 *   mprotect             addr, length, prot UINT
 *   init_module          length UINT, uargs STR
 *   finit_module         fd FD, uargs STR, flags UINT
 *   unshare              flags UINT
 *   setns                fd FD, nstype UINT
 *   chdir                path STR
 *   fchdir               fd FD
 *   fcntl                fd FD, cmd UINT, arg UINT
 *   any other syscall    a0..a5 UINT (raw argument registers)
 *   SCRY_EVT_PROCEXIT    status INT ((exit_code >> 8) & 0xff),
 *                        signal INT (exit_code & 0x7f); ret = raw exit_code
 */
#ifndef SCRY_ABI_H
#define SCRY_ABI_H

/* Sizes and limits. */
enum scry_limits {
	/* Largest record the probe emits, header included. */
	SCRY_RECORD_MAX = 8192,
	/* Bytes read for one path or string argument, NUL included. */
	SCRY_PATH_MAX = 256,
	/* Bytes read for one struct sockaddr. */
	SCRY_SOCKADDR_MAX = 128,
	/* Bytes of execve argv kept (the list is cut at a string boundary). */
	SCRY_ARGV_MAX = 512,
	/* Most execve arguments read. */
	SCRY_ARGV_ARGS = 16,
	/* Upper bound of targ_snaplen. */
	SCRY_SNAPLEN_MAX = 4096,
	/* Most iovecs of a readv/writev/recvmsg/sendmsg read for its size and
	 * data. */
	SCRY_IOV_MAX = 16,
	/* Default targ_snaplen. */
	SCRY_SNAPLEN_DEFAULT = 80,
	/* Size of targ_syscalls; syscall numbers at or above it are always
	 * recorded, with header.nr = SCRY_NR_UNKNOWN. */
	SCRY_NR_MAX = 512,
	/* Default byte size of each per-CPU ring buffer (power of two, a
	 * multiple of the page size). */
	SCRY_RINGBUF_DEFAULT = 8 * 1024 * 1024,
	/* Default max_entries of the `events` outer map (CPUs). */
	SCRY_MAX_CPUS = 1024,
	/* max_entries of the `targets` map: processes traced at once when
	 * targ_targets is set. */
	SCRY_TARGETS_MAX = 65536,
	/* max_entries of the `cgroups` map: cgroups traced at once when
	 * targ_cgroups is set. */
	SCRY_CGROUPS_MAX = 16384,
};

/* header.nr values that are not syscall numbers. */
enum scry_event_type {
	/* Last thread of a thread group exited. */
	SCRY_EVT_PROCEXIT = 1000,
	/* Syscall number outside [0, SCRY_NR_MAX). */
	SCRY_NR_UNKNOWN = 0xffff,
};

/* Bits of header.flags. */
enum scry_header_flags {
	/* No entry was seen (capture started mid-call, the clone/fork child
	 * side, or the inflight map was full): latency_ns is 0 and the
	 * arguments were read from the registers at exit. */
	SCRY_HDR_NO_ENTER = 1,
	/* A 32-bit (ia32) task: nr is an ia32 number, generic record. */
	SCRY_HDR_COMPAT = 2,
	/* Emitted at syscall entry (exit, exit_group): ret and latency are 0. */
	SCRY_HDR_AT_ENTRY = 4,
};

/* struct scry_param.kind */
enum scry_param_kind {
	SCRY_PARAM_ABSENT = 0,
	SCRY_PARAM_INT = 1,
	SCRY_PARAM_UINT = 2,
	SCRY_PARAM_FD = 3,
	SCRY_PARAM_STR = 4,
	SCRY_PARAM_BYTES = 5,
	SCRY_PARAM_SOCKADDR = 6,
	SCRY_PARAM_STRLIST = 7,
};

/* Bits of struct scry_param.flags. */
enum scry_param_flags {
	/* The value was cut to fit a limit. For STR this is set whenever the
	 * string filled the buffer, so a path of exactly SCRY_PATH_MAX - 1
	 * bytes is reported as (possibly) truncated. */
	SCRY_PARAM_F_TRUNCATED = 1,
};

struct scry_event_header {
	/* CLOCK_BOOTTIME (bpf_ktime_get_boot_ns) at syscall exit; entry time is
	 * ts_boot_ns - latency_ns. */
	__u64 ts_boot_ns;
	/* Exit minus entry; 0 with SCRY_HDR_NO_ENTER or SCRY_HDR_AT_ENTRY. */
	__u64 latency_ns;
	/* Syscall return value. */
	__s64 ret;
	/* Thread id and thread group id, as seen from the initial pid ns. */
	__u32 tid;
	__u32 tgid;
	/* CPU the record was emitted on (= the ring it came from). */
	__u32 cpu;
	/* Syscall number, SCRY_EVT_PROCEXIT or SCRY_NR_UNKNOWN. */
	__u16 nr;
	/* Number of struct scry_param that follow. */
	__u16 nparams;
	/* Total record bytes, header included. */
	__u32 len;
	/* SCRY_HDR_* bits. */
	__u32 flags;
};

struct scry_param {
	/* SCRY_PARAM_* */
	__u8 kind;
	/* SCRY_PARAM_F_* */
	__u8 flags;
	/* Bytes of value that follow this header. */
	__u16 len;
};

/* One entry per CPU in the `counters` per-CPU array (key 0). */
struct scry_counters {
	/* Records written to the ring buffer. */
	__u64 delivered;
	/* Records lost because the ring buffer was full. */
	__u64 dropped;
	/* Records lost because no ring was installed for this CPU. */
	__u64 dropped_no_ring;
	/* Entries that could not be stashed (inflight or inflight_ext full);
	 * the record is still emitted, with less information. */
	__u64 stash_failed;
	/* Children of a target that could not be added to the full `targets`
	 * map (targ_targets only): they and their descendants go unrecorded. */
	__u64 targets_full;
};

#endif /* SCRY_ABI_H */
