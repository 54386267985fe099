// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * scry: one record per syscall, emitted at exit, into per-CPU ring buffers.
 *
 * sys_enter stashes the entry time, the raw arguments and, for the calls
 * whose pointer arguments a racing thread could rewrite (open family,
 * connect, exec), a copy of the path / sockaddr / argv. sys_exit builds the
 * record in a per-CPU scratch buffer and copies it into this CPU's ring with
 * BPF_RB_NO_WAKEUP: user space polls on a timer. The record format is
 * described in abi.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "abi.h"
#include "syscall_nr.h"

/* GPL-compatible: bpf_probe_read_* and the tracing helpers are GPL-only. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Knobs, set by user space between open and load. */
const volatile __u32 targ_snaplen = SCRY_SNAPLEN_DEFAULT;
/* Events of this tgid are skipped (the recorder itself); 0 = none. */
const volatile __u32 targ_self_tgid = 0;
/* If nonzero, only this tgid is recorded. */
const volatile __u32 targ_tgid = 0;
/* 1 = only the tgids in the `targets` map are recorded (and, since forks
 * are followed, everything they start). */
const volatile __u32 targ_targets = 0;
/* 1 = the processes whose cgroup (v2) is in the `cgroups` map are recorded
 * too, whichever way they got there. */
const volatile __u32 targ_cgroups = 0;
/* 1 = record this syscall number. */
const volatile __u8 targ_syscalls[SCRY_NR_MAX] = { [0 ... SCRY_NR_MAX - 1] = 1 };
/* 1 = record syscall numbers outside targ_syscalls (unknown_syscall). */
const volatile __u32 targ_unknown_syscalls = 1;
/* 1 = the stash lives in task local storage (kernels >= 5.12, where tracing
 * programs may use it): the *_task programs run and `inflight` is unused.
 * 0 = the stash is kept in the `inflight` hash and the *_hash programs run. */
const volatile __u32 targ_task_storage = 0;
/* Stage bytes that make a batch (at most STAGE_START_MAX): set by user
 * space to a fraction of the ring, so a batch always fits in it. */
const volatile __u32 targ_stage_flush = 4096;

/*
 * Force the ABI types into BTF so the skeleton generates them
 * (skel::types::scry_*). Never written.
 */
struct scry_event_header _scry_event_header = {};
struct scry_param _scry_param = {};
struct scry_counters _scry_counters = {};
enum scry_limits _scry_limits = 0;
enum scry_event_type _scry_event_type = 0;
enum scry_header_flags _scry_header_flags = 0;
enum scry_param_kind _scry_param_kind = 0;
enum scry_param_flags _scry_param_flags = 0;

/* Per-thread state between sys_enter and sys_exit. */
struct stash {
	__u64 ts;
	__u64 args[6];
	__u32 nr;
	__u32 flags;
};

/*
 * The stash of the syscall in progress on this CPU, and whose it is. Entry
 * and exit of a syscall that does not block run on the same CPU with no
 * other task in between, so the stash goes here, where reaching it is one
 * inlined array lookup; when the task is switched out mid-syscall,
 * sched_switch moves the stash into the task's local storage, where the
 * exit (on whichever CPU) finds it. Programs on the syscall tracepoints run
 * with preemption disabled, so no other task can touch the slot meanwhile.
 */
struct cpu_stash {
	/* The task_struct the stash belongs to (it survives an exec changing
	 * the tid); 0 = empty. */
	__u64 task;
	struct stash st;
};

/* Entry copies of racy pointer arguments, for the few calls that need it. */
struct stash_ext {
	/* The entry time of the syscall that wrote it (= stash.ts): a copy
	 * left by an earlier syscall is never taken for this one's. */
	__u64 ts;
	/* Bytes in str (path without NUL, or sockaddr); < 0: copy failed. */
	__s32 str_len;
	/* Bytes in argv. */
	__u32 argv_len;
	__u32 argv_truncated;
	__u32 str_flags;
	__u8 str[SCRY_PATH_MAX];
	/* Twice SCRY_ARGV_MAX: a masked offset plus a masked length stays in
	 * bounds for the verifier. At most SCRY_ARGV_MAX bytes are used. */
	__u8 argv[2 * SCRY_ARGV_MAX];
};

/* Room for building a record; twice the largest record so that every
 * masked offset plus every masked length stays inside. */
#define SCRY_OFF_MASK (SCRY_RECORD_MAX - 1)
#define SCRATCH_SIZE (2 * SCRY_RECORD_MAX + 64)

/*
 * Records are built in a per-CPU stage and reach the CPU's ring in batches:
 * one ring reservation per batch instead of one per record, and each record
 * is written into memory this CPU wrote a moment ago rather than into the
 * ring's next cache lines, which nobody has touched for a whole lap of the
 * ring. A batch goes out once the stage holds targ_stage_flush bytes, and
 * whenever user space runs handle__flush on the CPU, which it does before
 * every drain: no record waits in a stage for longer than a drain interval.
 *
 * A record starts below STAGE_START_MAX, so a masked start plus a record
 * stays inside buf, and a batch is shorter than STAGE_START_MAX plus the
 * largest record.
 */
#define STAGE_START_MAX SCRY_RECORD_MAX
#define STAGE_BATCH_MASK (STAGE_START_MAX + SCRY_RECORD_MAX - 1)
struct stage {
	/* Bytes staged: whole records, each padded to 8 bytes as ring samples
	 * are, so that every record header stays aligned. */
	__u32 len;
	/* Records staged. */
	__u32 count;
	/* Set while a record is being built at the end of the stage, so that
	 * a flush run by user space (an interrupt on this CPU) leaves the stage
	 * alone meanwhile: user space tries again. */
	__u32 building;
	__u32 pad;
	__u8 buf[STAGE_START_MAX + SCRATCH_SIZE];
};

/* Path rebuilding area: components are prepended leftwards from PATHBUF_END. */
#define PATHBUF_END 512
#define PATHBUF_MASK 511
#define DPATH_DEPTH 32
struct pathbuf {
	__u32 pos;
	__u32 truncated;
	__u8 buf[2 * PATHBUF_END];
};

/*
 * One ring buffer per CPU. The inner maps are created by user space (any
 * size: the kernel does not compare max_entries of ring buffer inner maps)
 * and inserted at index = CPU id after load; a CPU without a ring counts
 * dropped_no_ring. The prototype below is only used to create the outer map.
 */
struct ring_proto {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SCRY_MAX_CPUS);
	__type(key, __u32);
	__array(values, struct ring_proto);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scry_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct stash);
} inflight SEC(".maps");

/*
 * The same stash in task local storage: a lookup is a few loads from the
 * task, where the hash costs an update at entry and a lookup and a delete
 * at exit, most of the probe's cost on a cheap syscall. An exit marks the
 * stash consumed (ts = 0) instead of deleting it; the storage goes with the
 * task, also through an exec that changes its tid.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct stash);
} inflight_task SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct stash_ext);
} inflight_ext SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_stash);
} cpu_stash SEC(".maps");

/* The same in task local storage, written in place (no copy of the 1.3 KB
 * value through the hash), alongside inflight_task. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct stash_ext);
} inflight_ext_task SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stage);
} stage SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stash_ext);
} scratch_ext SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pathbuf);
} pathbuf SEC(".maps");

/*
 * The processes recorded when targ_targets is set: tgid -> 1. User space
 * inserts the initial targets before attaching; sched_process_fork adds the
 * child of every target before the child can run, so no descendant escapes,
 * and sched_process_exit removes a process when its last thread exits, so a
 * recycled pid is not recorded. A child that finds the map full is counted
 * in targets_full.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SCRY_TARGETS_MAX);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

/*
 * The cgroups recorded when targ_cgroups is set: cgroup v2 id (the inode
 * number of its directory) -> 1. A container's processes are recognised
 * by where they run, not by their ancestry: a process moved into the
 * container (`docker exec`, a write to cgroup.procs) is recorded from its
 * next syscall on. User space adds the cgroups of a container as they
 * appear.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SCRY_CGROUPS_MAX);
	__type(key, __u64);
	__type(value, __u8);
} cgroups SEC(".maps");

#define AT_FDCWD -100
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define AF_INET 2
#define AF_INET6 10
#define TS_COMPAT 0x0002
#define SIGCHLD 17
#define CLONE_VM 0x00000100
#define CLONE_VFORK 0x00004000
#define O_CREAT_WRONLY_TRUNC 01101

/* ---- filters ---------------------------------------------------------- */

/* Whether to leave out the current task, of thread group `tgid` (the cgroup
 * is the current task's: every caller runs in the task it asks about). */
static __always_inline int skip_tgid(__u32 tgid)
{
	if (targ_self_tgid && tgid == targ_self_tgid)
		return 1;
	if (targ_tgid && tgid != targ_tgid)
		return 1;
	/* targ_targets and targ_cgroups are load-time constants: without them
	 * the verifier drops the lookups, so a whole-host capture pays
	 * nothing for them. Either map admits a process. */
	if (targ_cgroups) {
		__u64 cgroup = bpf_get_current_cgroup_id();

		if (bpf_map_lookup_elem(&cgroups, &cgroup))
			return 0;
		if (!targ_targets)
			return 1;
	}
	if (targ_targets && !bpf_map_lookup_elem(&targets, &tgid))
		return 1;
	return 0;
}

static __always_inline int want_nr(long id)
{
	if ((__u64)id >= SCRY_NR_MAX)
		return targ_unknown_syscalls;
	return targ_syscalls[id & (SCRY_NR_MAX - 1)];
}

static __always_inline struct scry_counters *get_counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&counters, &zero);
}

static __always_inline void count_stash_failed(void)
{
	struct scry_counters *c = get_counters();

	if (c)
		c->stash_failed++;
}

static __always_inline int is_compat(struct task_struct *task)
{
	/* A trusted BTF pointer: a plain (relocated) load, no helper call. */
	return task->thread_info.status & TS_COMPAT;
}

static __always_inline void read_args(struct pt_regs *regs, int compat, __u64 *args)
{
	/* regs is the tracepoint's trusted BTF argument: plain loads. */
	if (compat) {
		args[0] = (__u32)regs->bx;
		args[1] = (__u32)regs->cx;
		args[2] = (__u32)regs->dx;
		args[3] = (__u32)regs->si;
		args[4] = (__u32)regs->di;
		args[5] = (__u32)regs->bp;
		return;
	}
	args[0] = regs->di;
	args[1] = regs->si;
	args[2] = regs->dx;
	args[3] = regs->r10;
	args[4] = regs->r8;
	args[5] = regs->r9;
}

/* The current thread's ids as bpf_get_current_pid_tgid() gives them (tgid
 * in the high half), read from the task, a trusted BTF pointer: plain
 * loads, not a helper call. */
static __always_inline __u64 task_pid_tgid(struct task_struct *task)
{
	return ((__u64)task->tgid << 32) | (__u32)task->pid;
}

/* ---- record building -------------------------------------------------- */

/*
 * Every writer takes the record buffer and the current offset, writes one
 * parameter at buf + (off & SCRY_OFF_MASK) and returns the next offset. The
 * masks keep the verifier's view bounded; records never exceed
 * SCRY_RECORD_MAX, so they never change a value.
 */

static __always_inline struct scry_param *param_at(__u8 *buf, __u32 off)
{
	return (struct scry_param *)(buf + (off & SCRY_OFF_MASK));
}

static __always_inline void set_param(struct scry_param *h, __u8 kind, __u8 flags, __u16 len)
{
	h->kind = kind;
	h->flags = flags;
	h->len = len;
}

static __always_inline __u32 put_absent(__u8 *buf, __u32 off)
{
	set_param(param_at(buf, off), SCRY_PARAM_ABSENT, 0, 0);
	return off + sizeof(struct scry_param);
}

static __always_inline __u32 put_num(__u8 *buf, __u32 off, __u8 kind, __u64 v)
{
	struct scry_param *h = param_at(buf, off);

	set_param(h, kind, 0, 8);
	*(__u64 *)(h + 1) = v;
	return off + sizeof(*h) + 8;
}

#define put_int(buf, off, v) put_num(buf, off, SCRY_PARAM_INT, (__u64)(__s64)(v))
#define put_uint(buf, off, v) put_num(buf, off, SCRY_PARAM_UINT, (__u64)(v))
#define put_fd(buf, off, v) put_num(buf, off, SCRY_PARAM_FD, (__u64)(__s64)(int)(v))

/* A NUL-terminated user string, cut at SCRY_PATH_MAX - 1 bytes. */
static __always_inline __u32 put_user_str(__u8 *buf, __u32 off, __u64 uptr)
{
	struct scry_param *h = param_at(buf, off);
	long n;

	if (!uptr)
		return put_absent(buf, off);
	n = bpf_probe_read_user_str(h + 1, SCRY_PATH_MAX, (const void *)uptr);
	if (n <= 0)
		return put_absent(buf, off);
	n = (n - 1) & (SCRY_PATH_MAX - 1);
	set_param(h, SCRY_PARAM_STR, n == SCRY_PATH_MAX - 1 ? SCRY_PARAM_F_TRUNCATED : 0, n);
	return off + sizeof(*h) + n;
}

/* A NUL-terminated kernel string, cut at SCRY_PATH_MAX - 1 bytes. */
static __always_inline __u32 put_kernel_str(__u8 *buf, __u32 off, const void *kptr)
{
	struct scry_param *h = param_at(buf, off);
	long n;

	if (!kptr)
		return put_absent(buf, off);
	n = bpf_probe_read_kernel_str(h + 1, SCRY_PATH_MAX, kptr);
	if (n <= 0)
		return put_absent(buf, off);
	n = (n - 1) & (SCRY_PATH_MAX - 1);
	set_param(h, SCRY_PARAM_STR, n == SCRY_PATH_MAX - 1 ? SCRY_PARAM_F_TRUNCATED : 0, n);
	return off + sizeof(*h) + n;
}

/* len bytes of user memory; len must already be clamped by the caller. */
static __always_inline __u32 put_user_bytes(__u8 *buf, __u32 off, __u8 kind, __u8 flags,
					    __u64 uptr, __u32 len)
{
	struct scry_param *h = param_at(buf, off);

	if (!uptr)
		return put_absent(buf, off);
	barrier_var(len);
	len &= SCRY_OFF_MASK;
	if (bpf_probe_read_user(h + 1, len, (const void *)uptr))
		return put_absent(buf, off);
	set_param(h, kind, flags, len);
	return off + sizeof(*h) + len;
}

/* len bytes of kernel (or map) memory; len must already be clamped. */
static __always_inline __u32 put_kernel_bytes(__u8 *buf, __u32 off, __u8 kind, __u8 flags,
					      const void *kptr, __u32 len)
{
	struct scry_param *h = param_at(buf, off);

	barrier_var(len);
	len &= SCRY_OFF_MASK;
	if (bpf_probe_read_kernel(h + 1, len, kptr))
		return put_absent(buf, off);
	set_param(h, kind, flags, len);
	return off + sizeof(*h) + len;
}

static __always_inline __u32 snaplen(void)
{
	__u32 s = targ_snaplen;

	return s > SCRY_SNAPLEN_MAX ? SCRY_SNAPLEN_MAX : s;
}

/* Buffer bytes: the first min(snaplen, avail) bytes at uptr. */
static __always_inline __u32 put_data(__u8 *buf, __u32 off, __u64 uptr, __s64 avail)
{
	__u32 s = snaplen();
	__u32 n;
	__u8 flags = 0;

	if (avail <= 0)
		n = 0;
	else if ((__u64)avail > s) {
		n = s;
		flags = SCRY_PARAM_F_TRUNCATED;
	} else
		n = avail;
	if (n > SCRY_SNAPLEN_MAX)
		n = SCRY_SNAPLEN_MAX;
	return put_user_bytes(buf, off, SCRY_PARAM_BYTES, flags, uptr, n);
}

/* The summed length of the first SCRY_IOV_MAX iovecs of an array. */
static __always_inline __u64 iov_total(__u64 iov_uptr, __u64 iovcnt)
{
	const struct iovec *iovs = (const struct iovec *)iov_uptr;
	__u64 total = 0;

	for (int i = 0; i < SCRY_IOV_MAX; i++) {
		struct iovec iov = {};

		if (i >= iovcnt || bpf_probe_read_user(&iov, sizeof(iov), &iovs[i]))
			break;
		total += iov.iov_len;
	}
	return total;
}

/*
 * Buffer bytes gathered across an iovec array, in order: the first
 * min(snaplen, avail) bytes of the first SCRY_IOV_MAX iovecs, as one BYTES
 * parameter, TRUNCATED when the call moved more.
 */
static __always_inline __u32 put_iov_data(__u8 *buf, __u32 off, __u64 iov_uptr, __u64 iovcnt,
					  __s64 avail)
{
	const struct iovec *iovs = (const struct iovec *)iov_uptr;
	struct scry_param *h = param_at(buf, off);
	__u64 want = snaplen();
	__u64 copied = 0;
	__u8 flags = 0;

	if (!iov_uptr || avail <= 0)
		return put_absent(buf, off);
	if ((__u64)avail > want)
		flags = SCRY_PARAM_F_TRUNCATED;
	else
		want = avail;
	for (int i = 0; i < SCRY_IOV_MAX; i++) {
		struct iovec iov = {};
		__u64 n;

		if (i >= iovcnt || copied >= want || copied >= SCRY_SNAPLEN_MAX)
			break;
		if (bpf_probe_read_user(&iov, sizeof(iov), &iovs[i]))
			break;
		n = want - copied;
		if (iov.iov_len < n)
			n = iov.iov_len;
		/* The verifier must see both bounds on the registers it checks:
		 * copied < SCRY_SNAPLEN_MAX and n <= SCRY_SNAPLEN_MAX keep the
		 * copy inside the scratch buffer. */
		barrier_var(n);
		if (n > SCRY_SNAPLEN_MAX)
			n = SCRY_SNAPLEN_MAX;
		barrier_var(n);
		barrier_var(copied);
		copied &= SCRY_SNAPLEN_MAX - 1;
		if (n && bpf_probe_read_user((__u8 *)(h + 1) + copied, n, iov.iov_base))
			break;
		copied += n;
	}
	if (copied < want)
		flags = SCRY_PARAM_F_TRUNCATED;
	set_param(h, SCRY_PARAM_BYTES, flags, (__u16)copied);
	return off + sizeof(*h) + (__u32)copied;
}

/* A struct sockaddr of addrlen bytes in user memory. */
static __always_inline __u32 put_user_sockaddr(__u8 *buf, __u32 off, __u64 uptr, __s64 addrlen)
{
	__u32 n;

	if (!uptr || addrlen <= 0)
		return put_absent(buf, off);
	n = addrlen > SCRY_SOCKADDR_MAX ? SCRY_SOCKADDR_MAX : addrlen;
	return put_user_bytes(buf, off, SCRY_PARAM_SOCKADDR, 0, uptr, n);
}

/* A struct sockaddr whose socklen_t length is stored at ulenptr. */
static __always_inline __u32 put_user_sockaddr_lenp(__u8 *buf, __u32 off, __u64 uptr,
						    __u64 ulenptr)
{
	int len = 0;

	if (!uptr || !ulenptr)
		return put_absent(buf, off);
	if (bpf_probe_read_user(&len, sizeof(len), (const void *)ulenptr))
		return put_absent(buf, off);
	return put_user_sockaddr(buf, off, uptr, len);
}

/* The int[2] at uptr as two FD parameters (pipe, socketpair). */
static __always_inline __u32 put_fd_pair(__u8 *buf, __u32 off, __u64 uptr, long ret)
{
	int fds[2] = {};

	if (ret < 0 || !uptr || bpf_probe_read_user(fds, sizeof(fds), (const void *)uptr)) {
		off = put_absent(buf, off);
		return put_absent(buf, off);
	}
	off = put_fd(buf, off, fds[0]);
	return put_fd(buf, off, fds[1]);
}

static __always_inline struct file *fd_file(struct task_struct *task, __u64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* The local address of the socket behind fd, for AF_INET and AF_INET6. */
static __always_inline __u32 put_sock_local(__u8 *buf, __u32 off, struct task_struct *task,
					    __s64 fd)
{
	struct scry_param *h = param_at(buf, off);
	__u8 *v = (__u8 *)(h + 1);
	struct socket *sock;
	struct file *f;
	struct sock *sk;
	__u16 family, port;

	if (fd < 0)
		return put_absent(buf, off);
	f = fd_file(task, fd);
	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return put_absent(buf, off);
	sock = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return put_absent(buf, off);
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	port = bpf_htons(BPF_CORE_READ(sk, __sk_common.skc_num));
	if (family == AF_INET) {
		/* struct sockaddr_in */
		*(__u16 *)(v + 0) = family;
		*(__u16 *)(v + 2) = port;
		*(__u32 *)(v + 4) = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		*(__u64 *)(v + 8) = 0;
		set_param(h, SCRY_PARAM_SOCKADDR, 0, 16);
		return off + sizeof(*h) + 16;
	}
	if (family == AF_INET6) {
		/* struct sockaddr_in6 */
		*(__u16 *)(v + 0) = family;
		*(__u16 *)(v + 2) = port;
		*(__u32 *)(v + 4) = 0;
		BPF_CORE_READ_INTO(v + 8, sk, __sk_common.skc_v6_rcv_saddr);
		*(__u32 *)(v + 24) = 0;
		set_param(h, SCRY_PARAM_SOCKADDR, 0, 28);
		return off + sizeof(*h) + 28;
	}
	return put_absent(buf, off);
}

/*
 * Rebuild the path of (dentry, vfsmount) into the per-CPU pathbuf, ending at
 * PATHBUF_END, crossing mount points. A global function, so the verifier
 * checks it once. The write position lives in the map value, not in a
 * register: the verifier then treats it as unknown at every iteration (the
 * masks keep accesses in bounds) and can prune the two ways around the loop
 * (component, mount crossing) instead of exploring every combination.
 * Returns the start offset in pathbuf->buf (the path is buf[start,
 * PATHBUF_END)), with bit 16 set when leading components were left out, or
 * a negative value on failure.
 */
__noinline int scry_dpath(__u64 dentry_ptr, __u64 vfsmnt_ptr)
{
	struct dentry *dentry = (struct dentry *)dentry_ptr;
	struct mount *mnt;
	struct pathbuf *pb;
	__u32 zero = 0, pos;

	pb = bpf_map_lookup_elem(&pathbuf, &zero);
	if (!pb || !dentry_ptr || !vfsmnt_ptr)
		return -1;
	mnt = (struct mount *)(vfsmnt_ptr - bpf_core_field_offset(struct mount, mnt));
	pb->pos = PATHBUF_END;
	pb->truncated = 1;

	for (int i = 0; i < DPATH_DEPTH; i++) {
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
		const unsigned char *name;
		__u32 len;

		if (dentry == mnt_root || dentry == parent) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

			if (mnt_parent == mnt || !mnt_parent) {
				pb->truncated = 0;
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			continue;
		}
		len = BPF_CORE_READ(dentry, d_name.len);
		name = BPF_CORE_READ(dentry, d_name.name);
		pos = pb->pos;
		if (len + 1 > pos || len > PATHBUF_MASK)
			break;
		pos -= len;
		barrier_var(pos);
		pos &= PATHBUF_MASK;
		barrier_var(len);
		len &= PATHBUF_MASK;
		bpf_probe_read_kernel(&pb->buf[pos], len, name);
		pos = (pos - 1) & PATHBUF_MASK;
		pb->buf[pos] = '/';
		pb->pos = pos;
		dentry = parent;
	}
	pos = pb->pos;
	if (pos >= PATHBUF_END) {
		pos = PATHBUF_END - 1;
		pb->buf[pos] = '/';
	}
	return (pos & PATHBUF_MASK) | (pb->truncated << 16);
}

static __always_inline __u32 put_path(__u8 *buf, __u32 off, struct dentry *dentry,
				      struct vfsmount *vfsmnt)
{
	__u32 zero = 0, start, len;
	struct pathbuf *pb;
	int r;

	r = scry_dpath((__u64)dentry, (__u64)vfsmnt);
	pb = bpf_map_lookup_elem(&pathbuf, &zero);
	if (r < 0 || !pb)
		return put_absent(buf, off);
	start = r & PATHBUF_MASK;
	len = PATHBUF_END - start;
	if (len > SCRY_PATH_MAX) {
		/* Keep the leaf end: the basename matters most. */
		start = PATHBUF_END - SCRY_PATH_MAX;
		len = SCRY_PATH_MAX;
		r |= 1 << 16;
	}
	return put_kernel_bytes(buf, off, SCRY_PARAM_STR, (r >> 16) ? SCRY_PARAM_F_TRUNCATED : 0,
				&pb->buf[start & PATHBUF_MASK], len);
}

/* A kernel_cap_t: u64 `val` since 6.3, __u32 cap[2] before; same bytes. */
static __always_inline __u64 read_cap(const kernel_cap_t *cap)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), cap);
	return v;
}

static __always_inline __u32 put_caps(__u8 *buf, __u32 off, const struct cred *cred)
{
	off = put_uint(buf, off, read_cap(__builtin_preserve_access_index(&cred->cap_effective)));
	off = put_uint(buf, off, read_cap(__builtin_preserve_access_index(&cred->cap_permitted)));
	return put_uint(buf, off, read_cap(__builtin_preserve_access_index(&cred->cap_inheritable)));
}

static __always_inline __u32 tty_dev(struct task_struct *task)
{
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	__u32 major, minor;

	if (!tty)
		return 0;
	major = BPF_CORE_READ(tty, driver, major);
	minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
	return (major << 20) | (minor & 0xfffff);
}

/* ---- output ----------------------------------------------------------- */

static __always_inline struct stage *get_stage(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stage, &zero);
}

/* Sends the staged records to this CPU's ring, as one sample. */
static __always_inline void flush(struct stage *st)
{
	__u32 len = st->len, count = st->count;
	__u32 cpu = bpf_get_smp_processor_id();
	struct scry_counters *c;
	void *rb;

	/* Emptied before the output: a flush interrupting this one finds
	 * nothing to send twice. */
	st->len = 0;
	st->count = 0;
	if (!len)
		return;
	c = get_counters();
	if (!c)
		return;
	rb = bpf_map_lookup_elem(&events, &cpu);
	if (!rb) {
		c->dropped_no_ring += count;
		return;
	}
	barrier_var(len);
	len &= STAGE_BATCH_MASK;
	if (bpf_ringbuf_output(rb, st->buf, len, BPF_RB_NO_WAKEUP))
		c->dropped += count;
	else
		c->delivered += count;
}

/* Where to build the next record: the end of this CPU's stage. Every
 * record begun must be finished: until then, the CPU refuses to flush. */
static __always_inline __u8 *get_scratch(void)
{
	struct stage *st = get_stage();

	if (!st)
		return NULL;
	st->building = 1;
	return st->buf + (st->len & (STAGE_START_MAX - 1));
}

/* The record built at the end of the stage is complete: keep it. */
static __always_inline void finish(__u8 *buf, __u32 off, __u16 nparams)
{
	struct scry_event_header *hdr = (void *)buf;
	struct stage *st;

	if (off > SCRY_RECORD_MAX)
		off = SCRY_RECORD_MAX;
	hdr->nparams = nparams;
	hdr->len = off;
	st = get_stage();
	if (!st)
		return;
	st->len += (off + 7) & ~7;
	st->count++;
	if (st->len >= targ_stage_flush)
		flush(st);
	st->building = 0;
}

static __always_inline void fill_header(__u8 *buf, __u64 ts, __u64 latency, __s64 ret,
					__u64 pid_tgid, __u16 nr, __u32 flags)
{
	struct scry_event_header *hdr = (void *)buf;

	hdr->ts_boot_ns = ts;
	hdr->latency_ns = latency;
	hdr->ret = ret;
	hdr->tid = (__u32)pid_tgid;
	hdr->tgid = pid_tgid >> 32;
	hdr->cpu = bpf_get_smp_processor_id();
	hdr->nr = nr;
	hdr->nparams = 0;
	hdr->len = 0;
	hdr->flags = flags;
}

/*
 * Run by user space on each CPU (BPF_PROG_TEST_RUN with
 * BPF_F_TEST_RUN_ON_CPU) before it drains the rings, so that records
 * staged on a CPU that has gone quiet are read too. Never attached.
 * Returns 1 when it interrupted the building of a record and left the
 * stage alone.
 */
SEC("raw_tp")
int handle__flush(void *ctx)
{
	struct stage *st = get_stage();

	if (!st)
		return 0;
	if (st->building)
		return 1;
	flush(st);
	return 0;
}

/* ---- sys_enter ---------------------------------------------------------- */

static __always_inline int needs_ext(long id)
{
	switch (id) {
	case SYS_open:
	case SYS_creat:
	case SYS_openat:
	case SYS_openat2:
	case SYS_execve:
	case SYS_execveat:
	case SYS_connect:
		return 1;
	}
	return 0;
}

static __always_inline void copy_argv(struct stash_ext *ext, __u64 uargv)
{
	const char *const *argv = (const char *const *)uargv;
	__u32 aoff = 0;
	int i;

	ext->argv_truncated = 0;
	for (i = 0; i < SCRY_ARGV_ARGS; i++) {
		const char *arg = NULL;
		__u32 idx, room;
		long n;

		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			break;
		if (aoff >= SCRY_ARGV_MAX) {
			ext->argv_truncated = 1;
			break;
		}
		idx = aoff;
		barrier_var(idx);
		idx &= SCRY_ARGV_MAX - 1;
		room = SCRY_ARGV_MAX - idx;
		if (room > SCRY_PATH_MAX)
			room = SCRY_PATH_MAX;
		barrier_var(room);
		room &= SCRY_ARGV_MAX - 1;
		n = bpf_probe_read_user_str(&ext->argv[idx], room, arg);
		if (n <= 0)
			break;
		aoff += n;
	}
	if (i == SCRY_ARGV_ARGS && uargv) {
		const char *arg = NULL;

		if (!bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) && arg)
			ext->argv_truncated = 1;
	}
	ext->argv_len = aoff;
}

static __always_inline void stash_ext(struct task_struct *task, __u32 tid, long id,
				      const struct stash *st, const int in_task)
{
	const __u64 *args = st->args;
	__u32 zero = 0;
	struct stash_ext *ext;
	__u64 str = 0;
	long n;

	if (in_task)
		ext = bpf_task_storage_get(&inflight_ext_task, task, 0,
					   BPF_LOCAL_STORAGE_GET_F_CREATE);
	else
		ext = bpf_map_lookup_elem(&scratch_ext, &zero);
	if (!ext) {
		count_stash_failed();
		return;
	}
	ext->ts = st->ts;
	ext->str_len = -1;
	ext->str_flags = 0;
	ext->argv_len = 0;
	ext->argv_truncated = 0;
	switch (id) {
	case SYS_open:
	case SYS_creat:
		str = args[0];
		break;
	case SYS_openat:
	case SYS_openat2:
		str = args[1];
		break;
	case SYS_execve:
		str = args[0];
		copy_argv(ext, args[1]);
		break;
	case SYS_execveat:
		str = args[1];
		copy_argv(ext, args[2]);
		break;
	case SYS_connect: {
		__s64 alen = (int)args[2];
		__u32 len;

		if (!args[1] || alen <= 0)
			break;
		len = alen > SCRY_SOCKADDR_MAX ? SCRY_SOCKADDR_MAX : alen;
		barrier_var(len);
		len &= SCRY_SOCKADDR_MAX * 2 - 1;
		if (len > SCRY_SOCKADDR_MAX)
			len = SCRY_SOCKADDR_MAX;
		if (!bpf_probe_read_user(ext->str, len, (const void *)args[1]))
			ext->str_len = len;
		break;
	}
	}
	if (str) {
		n = bpf_probe_read_user_str(ext->str, SCRY_PATH_MAX, (const void *)str);
		if (n > 0) {
			ext->str_len = n - 1;
			if (n == SCRY_PATH_MAX)
				ext->str_flags = SCRY_PARAM_F_TRUNCATED;
		}
	}
	if (!in_task && bpf_map_update_elem(&inflight_ext, &tid, ext, BPF_ANY))
		count_stash_failed();
}

/* exit and exit_group never return: record them at entry. */
static __always_inline void emit_at_entry(__u64 pid_tgid, long id, __u64 status, __u32 flags)
{
	__u8 *buf = get_scratch();
	__u32 off = sizeof(struct scry_event_header);

	if (!buf)
		return;
	fill_header(buf, bpf_ktime_get_boot_ns(), 0, 0, pid_tgid, id, flags | SCRY_HDR_AT_ENTRY);
	off = put_int(buf, off, (int)status);
	finish(buf, off, 1);
}

/* `in_task` is a constant in each caller: the task storage or the hash. */
static __always_inline int on_sys_enter(struct pt_regs *regs, long id, const int in_task)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = task_pid_tgid(task);
	__u32 tid = (__u32)pid_tgid;
	struct stash local = {}, *st = &local;
	int compat;

	if (skip_tgid(pid_tgid >> 32) || !want_nr(id))
		return 0;
	compat = is_compat(task);

	if (!compat && (id == SYS_exit || id == SYS_exit_group)) {
		emit_at_entry(pid_tgid, id, regs->di, 0);
		return 0;
	}

	if (in_task) {
		__u32 zero = 0;
		struct cpu_stash *slot = bpf_map_lookup_elem(&cpu_stash, &zero);

		if (!slot) {
			count_stash_failed();
			return 0;
		}
		slot->task = (__u64)task;
		st = &slot->st;
	}
	st->ts = bpf_ktime_get_boot_ns();
	st->nr = id;
	st->flags = compat ? SCRY_HDR_COMPAT : 0;
	read_args(regs, compat, st->args);
	if (!in_task && bpf_map_update_elem(&inflight, &tid, st, BPF_ANY)) {
		count_stash_failed();
		return 0;
	}
	if (!compat && needs_ext(id))
		stash_ext(task, tid, id, st, in_task);
	return 0;
}

/*
 * Each syscall hook comes in two programs: `_task` keeps the stash in task
 * local storage, `_hash` in the inflight hash. User space loads one pair.
 */
#define STASH_VARIANTS(hook, handler, arg)					\
	SEC("tp_btf/" #hook)							\
	int BPF_PROG(handle__##hook##_task, struct pt_regs *regs, long arg)	\
	{									\
		return handler(regs, arg, 1);					\
	}									\
	SEC("tp_btf/" #hook)							\
	int BPF_PROG(handle__##hook##_hash, struct pt_regs *regs, long arg)	\
	{									\
		return handler(regs, arg, 0);					\
	}

STASH_VARIANTS(sys_enter, on_sys_enter, id)

/* ---- sys_exit ----------------------------------------------------------- */

/* The entry copy of the path argument, or a fresh read at exit. */
static __always_inline __u32 put_stashed_str(__u8 *buf, __u32 off, struct stash_ext *ext,
					     __u64 uptr)
{
	if (ext && ext->str_len >= 0)
		return put_kernel_bytes(buf, off, SCRY_PARAM_STR, ext->str_flags, ext->str,
					ext->str_len & (SCRY_PATH_MAX - 1));
	return put_user_str(buf, off, uptr);
}

static __always_inline __u32 put_creds(__u8 *buf, __u32 off, struct task_struct *task)
{
	const struct cred *cred = BPF_CORE_READ(task, cred);
	__u32 loginuid = (__u32)-1;

	off = put_uint(buf, off, BPF_CORE_READ(cred, uid.val));
	off = put_uint(buf, off, BPF_CORE_READ(cred, gid.val));
	off = put_uint(buf, off, BPF_CORE_READ(cred, euid.val));
	off = put_uint(buf, off, BPF_CORE_READ(cred, egid.val));
	if (bpf_core_field_exists(task->loginuid))
		loginuid = BPF_CORE_READ(task, loginuid.val);
	off = put_uint(buf, off, loginuid);
	off = put_uint(buf, off, tty_dev(task));
	return put_caps(buf, off, cred);
}

static __always_inline int on_sys_exit(struct pt_regs *regs, long ret, const int in_task)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = task_pid_tgid(task);
	__u32 tid = (__u32)pid_tgid;
	__u64 now = bpf_ktime_get_boot_ns();
	struct cpu_stash *slot = NULL;
	struct stash *st;
	struct stash_ext *ext = NULL;
	__u64 a[6], latency = 0;
	__u32 flags = 0, off = sizeof(struct scry_event_header);
	__u16 np = 0, nr;
	long id;
	__u8 *buf;

	if (skip_tgid(pid_tgid >> 32))
		return 0;
	if (in_task) {
		__u32 zero = 0;

		slot = bpf_map_lookup_elem(&cpu_stash, &zero);
		if (slot && slot->task == (__u64)task) {
			st = &slot->st;
		} else {
			slot = NULL;
			st = bpf_task_storage_get(&inflight_task, task, 0, 0);
			/* ts = 0: consumed by an earlier exit, or never stashed. */
			if (st && !st->ts)
				st = NULL;
		}
	} else {
		st = bpf_map_lookup_elem(&inflight, &tid);
	}
	if (st) {
		id = st->nr;
		flags = st->flags;
		latency = now - st->ts;
		a[0] = st->args[0];
		a[1] = st->args[1];
		a[2] = st->args[2];
		a[3] = st->args[3];
		a[4] = st->args[4];
		a[5] = st->args[5];
	} else {
		int compat = is_compat(task);

		id = regs->orig_ax;
		flags = SCRY_HDR_NO_ENTER | (compat ? SCRY_HDR_COMPAT : 0);
		read_args(regs, compat, a);
	}
	if (!want_nr(id))
		goto out;
	nr = (__u64)id < SCRY_NR_MAX ? id : SCRY_NR_UNKNOWN;
	buf = get_scratch();
	if (!buf)
		goto out;
	fill_header(buf, now, latency, ret, pid_tgid, nr, flags);
	if (flags & SCRY_HDR_COMPAT)
		goto generic;
	if (st && needs_ext(id)) {
		if (in_task)
			ext = bpf_task_storage_get(&inflight_ext_task, task, 0, 0);
		else
			ext = bpf_map_lookup_elem(&inflight_ext, &tid);
		if (ext && ext->ts != st->ts)
			ext = NULL;
	}

	switch (id) {
	case SYS_open:
		off = put_stashed_str(buf, off, ext, a[0]);
		off = put_uint(buf, off, a[1]);
		off = put_uint(buf, off, a[2]);
		off = put_fd(buf, off, ret);
		np = 4;
		break;
	case SYS_creat:
		off = put_stashed_str(buf, off, ext, a[0]);
		off = put_uint(buf, off, O_CREAT_WRONLY_TRUNC);
		off = put_uint(buf, off, a[1]);
		off = put_fd(buf, off, ret);
		np = 4;
		break;
	case SYS_openat:
		off = put_fd(buf, off, a[0]);
		off = put_stashed_str(buf, off, ext, a[1]);
		off = put_uint(buf, off, a[2]);
		off = put_uint(buf, off, a[3]);
		off = put_fd(buf, off, ret);
		np = 5;
		break;
	case SYS_openat2: {
		struct open_how how = {};

		off = put_fd(buf, off, a[0]);
		off = put_stashed_str(buf, off, ext, a[1]);
		bpf_probe_read_user(&how, sizeof(how), (const void *)a[2]);
		off = put_uint(buf, off, how.flags);
		off = put_uint(buf, off, how.mode);
		off = put_fd(buf, off, ret);
		np = 5;
		break;
	}
	case SYS_read:
		off = put_fd(buf, off, a[0]);
		off = put_uint(buf, off, a[2]);
		off = put_data(buf, off, a[1], ret);
		off = put_absent(buf, off);
		np = 4;
		break;
	case SYS_write:
		off = put_fd(buf, off, a[0]);
		off = put_uint(buf, off, a[2]);
		off = put_data(buf, off, a[1], a[2]);
		off = put_absent(buf, off);
		np = 4;
		break;
	case SYS_recvfrom:
		off = put_fd(buf, off, a[0]);
		off = put_uint(buf, off, a[2]);
		off = put_data(buf, off, a[1], ret);
		off = ret >= 0 ? put_user_sockaddr_lenp(buf, off, a[4], a[5]) : put_absent(buf, off);
		np = 4;
		break;
	case SYS_sendto:
		off = put_fd(buf, off, a[0]);
		off = put_uint(buf, off, a[2]);
		off = put_data(buf, off, a[1], a[2]);
		off = put_user_sockaddr(buf, off, a[4], (int)a[5]);
		np = 4;
		break;
	case SYS_readv:
	case SYS_writev: {
		__u64 total = iov_total(a[1], a[2]);

		off = put_fd(buf, off, a[0]);
		off = put_uint(buf, off, total);
		off = put_iov_data(buf, off, a[1], a[2], id == SYS_readv ? ret : (__s64)total);
		off = put_absent(buf, off);
		np = 4;
		break;
	}
	case SYS_recvmsg:
	case SYS_sendmsg: {
		struct user_msghdr msg = {};
		__u64 total;

		bpf_probe_read_user(&msg, sizeof(msg), (const void *)a[1]);
		total = iov_total((__u64)msg.msg_iov, msg.msg_iovlen);
		off = put_fd(buf, off, a[0]);
		off = put_uint(buf, off, total);
		off = put_iov_data(buf, off, (__u64)msg.msg_iov, msg.msg_iovlen,
				   id == SYS_recvmsg ? ret : (__s64)total);
		if (id == SYS_recvmsg && ret < 0)
			off = put_absent(buf, off);
		else
			off = put_user_sockaddr(buf, off, (__u64)msg.msg_name, msg.msg_namelen);
		np = 4;
		break;
	}
	case SYS_pread64:
	case SYS_pwrite64:
		off = put_fd(buf, off, a[0]);
		off = put_uint(buf, off, a[2]);
		off = put_uint(buf, off, a[3]);
		off = put_data(buf, off, a[1], id == SYS_pread64 ? ret : (__s64)a[2]);
		np = 4;
		break;
	case SYS_preadv:
	case SYS_pwritev:
	case SYS_preadv2:
	case SYS_pwritev2: {
		int is_read = id == SYS_preadv || id == SYS_preadv2;
		__u64 total = iov_total(a[1], a[2]);

		off = put_fd(buf, off, a[0]);
		off = put_uint(buf, off, total);
		off = put_uint(buf, off, a[3]);
		off = put_iov_data(buf, off, a[1], a[2], is_read ? ret : (__s64)total);
		np = 4;
		break;
	}
	case SYS_close:
	case SYS_fchdir:
		off = put_fd(buf, off, a[0]);
		np = 1;
		break;
	case SYS_dup:
		off = put_fd(buf, off, a[0]);
		off = put_fd(buf, off, ret);
		off = put_uint(buf, off, 0);
		np = 3;
		break;
	case SYS_dup2:
	case SYS_dup3:
		off = put_fd(buf, off, a[0]);
		off = put_fd(buf, off, a[1]);
		off = put_uint(buf, off, id == SYS_dup3 ? a[2] : 0);
		np = 3;
		break;
	case SYS_pipe:
	case SYS_pipe2:
		off = put_fd_pair(buf, off, a[0], ret);
		off = put_uint(buf, off, id == SYS_pipe2 ? a[1] : 0);
		np = 3;
		break;
	case SYS_socket:
		off = put_uint(buf, off, a[0]);
		off = put_uint(buf, off, a[1]);
		off = put_uint(buf, off, a[2]);
		np = 3;
		break;
	case SYS_socketpair:
		off = put_uint(buf, off, a[0]);
		off = put_uint(buf, off, a[1]);
		off = put_uint(buf, off, a[2]);
		off = put_fd_pair(buf, off, a[3], ret);
		np = 5;
		break;
	case SYS_bind:
		off = put_fd(buf, off, a[0]);
		off = put_user_sockaddr(buf, off, a[1], (int)a[2]);
		np = 2;
		break;
	case SYS_listen:
		off = put_fd(buf, off, a[0]);
		off = put_int(buf, off, (int)a[1]);
		np = 2;
		break;
	case SYS_connect:
		off = put_fd(buf, off, a[0]);
		if (ext && ext->str_len >= 0)
			off = put_kernel_bytes(buf, off, SCRY_PARAM_SOCKADDR, 0, ext->str,
					       ext->str_len & (2 * SCRY_SOCKADDR_MAX - 1));
		else
			off = put_user_sockaddr(buf, off, a[1], (int)a[2]);
		off = put_sock_local(buf, off, task, (int)a[0]);
		np = 3;
		break;
	case SYS_accept:
	case SYS_accept4:
		off = put_fd(buf, off, a[0]);
		off = put_uint(buf, off, id == SYS_accept4 ? a[3] : 0);
		off = ret >= 0 ? put_user_sockaddr_lenp(buf, off, a[1], a[2]) : put_absent(buf, off);
		off = put_sock_local(buf, off, task, ret);
		np = 4;
		break;
	case SYS_execve:
	case SYS_execveat: {
		int at = id == SYS_execveat;
		struct fs_struct *fs;
		struct file *exe;
		__u32 alen;

		off = put_fd(buf, off, at ? a[0] : AT_FDCWD);
		off = put_stashed_str(buf, off, ext, at ? a[1] : a[0]);
		if (ext) {
			alen = ext->argv_len;
			if (alen > SCRY_ARGV_MAX)
				alen = SCRY_ARGV_MAX;
			off = put_kernel_bytes(buf, off, SCRY_PARAM_STRLIST,
					       ext->argv_truncated ? SCRY_PARAM_F_TRUNCATED : 0,
					       ext->argv, alen);
		} else {
			off = put_absent(buf, off);
		}
		exe = BPF_CORE_READ(task, mm, exe_file);
		if (exe)
			off = put_path(buf, off, BPF_CORE_READ(exe, f_path.dentry),
				       BPF_CORE_READ(exe, f_path.mnt));
		else
			off = put_absent(buf, off);
		fs = BPF_CORE_READ(task, fs);
		if (fs)
			off = put_path(buf, off, BPF_CORE_READ(fs, pwd.dentry),
				       BPF_CORE_READ(fs, pwd.mnt));
		else
			off = put_absent(buf, off);
		off = put_creds(buf, off, task);
		off = put_kernel_str(buf, off, BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, name));
		off = put_uint(buf, off, at ? a[4] : 0);
		np = 16;
		break;
	}
	case SYS_clone:
		off = put_uint(buf, off, a[0]);
		off = put_int(buf, off, ret);
		np = 2;
		break;
	case SYS_clone3: {
		__u64 cflags = 0;

		bpf_probe_read_user(&cflags, sizeof(cflags), (const void *)a[0]);
		off = put_uint(buf, off, cflags);
		off = put_int(buf, off, ret);
		np = 2;
		break;
	}
	case SYS_fork:
		off = put_uint(buf, off, SIGCHLD);
		off = put_int(buf, off, ret);
		np = 2;
		break;
	case SYS_vfork:
		off = put_uint(buf, off, CLONE_VM | CLONE_VFORK | SIGCHLD);
		off = put_int(buf, off, ret);
		np = 2;
		break;
	case SYS_kill:
	case SYS_tkill:
		off = put_int(buf, off, (int)a[0]);
		off = put_int(buf, off, (int)a[1]);
		np = 2;
		break;
	case SYS_tgkill:
		off = put_int(buf, off, (int)a[0]);
		off = put_int(buf, off, (int)a[1]);
		off = put_int(buf, off, (int)a[2]);
		np = 3;
		break;
	case SYS_unlink:
	case SYS_rmdir:
	case SYS_chdir:
		off = put_user_str(buf, off, a[0]);
		np = 1;
		break;
	case SYS_unlinkat:
		off = put_fd(buf, off, a[0]);
		off = put_user_str(buf, off, a[1]);
		off = put_uint(buf, off, a[2]);
		np = 3;
		break;
	case SYS_mkdir:
	case SYS_chmod:
		off = put_user_str(buf, off, a[0]);
		off = put_uint(buf, off, a[1]);
		np = 2;
		break;
	case SYS_mkdirat:
		off = put_fd(buf, off, a[0]);
		off = put_user_str(buf, off, a[1]);
		off = put_uint(buf, off, a[2]);
		np = 3;
		break;
	case SYS_rename:
	case SYS_link:
	case SYS_symlink:
		off = put_user_str(buf, off, a[0]);
		off = put_user_str(buf, off, a[1]);
		np = 2;
		break;
	case SYS_renameat:
	case SYS_renameat2:
	case SYS_linkat:
		off = put_fd(buf, off, a[0]);
		off = put_user_str(buf, off, a[1]);
		off = put_fd(buf, off, a[2]);
		off = put_user_str(buf, off, a[3]);
		off = put_uint(buf, off, id == SYS_renameat ? 0 : a[4]);
		np = 5;
		break;
	case SYS_symlinkat:
		off = put_user_str(buf, off, a[0]);
		off = put_fd(buf, off, a[1]);
		off = put_user_str(buf, off, a[2]);
		np = 3;
		break;
	case SYS_fchmod:
		off = put_fd(buf, off, a[0]);
		off = put_uint(buf, off, a[1]);
		np = 2;
		break;
	case SYS_fchmodat:
	case SYS_fchmodat2:
		off = put_fd(buf, off, a[0]);
		off = put_user_str(buf, off, a[1]);
		off = put_uint(buf, off, a[2]);
		off = put_uint(buf, off, id == SYS_fchmodat2 ? a[3] : 0);
		np = 4;
		break;
	case SYS_chown:
	case SYS_lchown:
		off = put_user_str(buf, off, a[0]);
		off = put_uint(buf, off, (__u32)a[1]);
		off = put_uint(buf, off, (__u32)a[2]);
		np = 3;
		break;
	case SYS_fchown:
		off = put_fd(buf, off, a[0]);
		off = put_uint(buf, off, (__u32)a[1]);
		off = put_uint(buf, off, (__u32)a[2]);
		np = 3;
		break;
	case SYS_fchownat:
		off = put_fd(buf, off, a[0]);
		off = put_user_str(buf, off, a[1]);
		off = put_uint(buf, off, (__u32)a[2]);
		off = put_uint(buf, off, (__u32)a[3]);
		off = put_uint(buf, off, a[4]);
		np = 5;
		break;
	case SYS_mount:
		off = put_user_str(buf, off, a[0]);
		off = put_user_str(buf, off, a[1]);
		off = put_user_str(buf, off, a[2]);
		off = put_uint(buf, off, a[3]);
		np = 4;
		break;
	case SYS_umount2:
	case SYS_memfd_create:
		off = put_user_str(buf, off, a[0]);
		off = put_uint(buf, off, a[1]);
		np = 2;
		break;
	case SYS_setuid:
	case SYS_setgid:
	case SYS_setfsuid:
	case SYS_setfsgid:
	case SYS_setgroups:
	case SYS_unshare:
		off = put_uint(buf, off, (__u32)a[0]);
		np = 1;
		break;
	case SYS_setreuid:
	case SYS_setregid:
		off = put_uint(buf, off, (__u32)a[0]);
		off = put_uint(buf, off, (__u32)a[1]);
		np = 2;
		break;
	case SYS_setresuid:
	case SYS_setresgid:
		off = put_uint(buf, off, (__u32)a[0]);
		off = put_uint(buf, off, (__u32)a[1]);
		off = put_uint(buf, off, (__u32)a[2]);
		np = 3;
		break;
	case SYS_capset:
		off = put_caps(buf, off, BPF_CORE_READ(task, cred));
		np = 3;
		break;
	case SYS_ptrace:
		off = put_uint(buf, off, a[0]);
		off = put_int(buf, off, (int)a[1]);
		off = put_uint(buf, off, a[2]);
		off = put_uint(buf, off, a[3]);
		np = 4;
		break;
	case SYS_mmap:
		off = put_uint(buf, off, a[0]);
		off = put_uint(buf, off, a[1]);
		off = put_uint(buf, off, a[2]);
		off = put_uint(buf, off, a[3]);
		off = put_fd(buf, off, a[4]);
		off = put_uint(buf, off, a[5]);
		np = 6;
		break;
	case SYS_mprotect:
		off = put_uint(buf, off, a[0]);
		off = put_uint(buf, off, a[1]);
		off = put_uint(buf, off, a[2]);
		np = 3;
		break;
	case SYS_init_module:
		off = put_uint(buf, off, a[1]);
		off = put_user_str(buf, off, a[2]);
		np = 2;
		break;
	case SYS_finit_module:
		off = put_fd(buf, off, a[0]);
		off = put_user_str(buf, off, a[1]);
		off = put_uint(buf, off, a[2]);
		np = 3;
		break;
	case SYS_setns:
		off = put_fd(buf, off, a[0]);
		off = put_uint(buf, off, a[1]);
		np = 2;
		break;
	case SYS_fcntl:
		off = put_fd(buf, off, a[0]);
		off = put_uint(buf, off, a[1]);
		off = put_uint(buf, off, a[2]);
		np = 3;
		break;
	default:
		goto generic;
	}
	finish(buf, off, np);
	goto out;

generic:
	/* The header is in place: the six raw arguments follow it. */
	off = sizeof(struct scry_event_header);
	off = put_uint(buf, off, a[0]);
	off = put_uint(buf, off, a[1]);
	off = put_uint(buf, off, a[2]);
	off = put_uint(buf, off, a[3]);
	off = put_uint(buf, off, a[4]);
	off = put_uint(buf, off, a[5]);
	finish(buf, off, 6);
out:
	if (st) {
		if (slot)
			slot->task = 0;
		else if (in_task)
			st->ts = 0;
		else
			bpf_map_delete_elem(&inflight, &tid);
		if (!in_task && needs_ext(id))
			bpf_map_delete_elem(&inflight_ext, &tid);
	}
	return 0;
}

STASH_VARIANTS(sys_exit, on_sys_exit, ret)

/* ---- process lifecycle ------------------------------------------------ */

/*
 * A task leaves the CPU in the middle of a syscall (it blocks, or is
 * preempted): its stash moves from the CPU's slot to its task storage, so
 * the next task's entry can take the slot. Loaded with the _task programs.
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(handle__sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	__u32 zero = 0;
	struct cpu_stash *slot = bpf_map_lookup_elem(&cpu_stash, &zero);
	struct stash *st;

	if (!slot || slot->task != (__u64)prev)
		return 0;
	slot->task = 0;
	st = bpf_task_storage_get(&inflight_task, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st) {
		count_stash_failed();
		return 0;
	}
	*st = slot->st;
	return 0;
}

/*
 * A non-leader thread that calls execve takes over the leader's pid before
 * sys_exit runs: move its stash to the new tid so the exit finds it.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle__sched_process_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	__u32 old_tid = old_pid, tid = BPF_CORE_READ(p, pid);
	struct stash_ext *ext;
	struct stash *st;

	if (old_tid == tid)
		return 0;
	/* Task storage follows the task; only the hash is keyed by tid. */
	st = targ_task_storage ? NULL : bpf_map_lookup_elem(&inflight, &old_tid);
	if (st) {
		bpf_map_update_elem(&inflight, &tid, st, BPF_ANY);
		bpf_map_delete_elem(&inflight, &old_tid);
	}
	ext = targ_task_storage ? NULL : bpf_map_lookup_elem(&inflight_ext, &old_tid);
	if (ext) {
		bpf_map_update_elem(&inflight_ext, &tid, ext, BPF_ANY);
		bpf_map_delete_elem(&inflight_ext, &old_tid);
	}
	return 0;
}

/*
 * Process exit. do_exit() decrements signal->live before this tracepoint,
 * so live == 0 means the last thread of the group is exiting: that is the
 * process exit, whichever thread (leader or not) goes last. Every exiting
 * thread also drops any stash it left behind (killed mid-syscall).
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle__sched_process_exit, struct task_struct *p)
{
	__u32 tid = BPF_CORE_READ(p, pid), tgid = BPF_CORE_READ(p, tgid);
	__u32 off = sizeof(struct scry_event_header);
	int code;
	__u8 *buf;

	if (!targ_task_storage)
		bpf_map_delete_elem(&inflight, &tid);
	if (!targ_task_storage)
		bpf_map_delete_elem(&inflight_ext, &tid);
	if (BPF_CORE_READ(p, signal, live.counter) != 0 || skip_tgid(tgid))
		return 0;
	buf = get_scratch();
	if (buf) {
		code = BPF_CORE_READ(p, exit_code);
		fill_header(buf, bpf_ktime_get_boot_ns(), 0, code, ((__u64)tgid << 32) | tid,
			    SCRY_EVT_PROCEXIT, 0);
		off = put_int(buf, off, (code >> 8) & 0xff);
		off = put_int(buf, off, code & 0x7f);
		finish(buf, off, 2);
	}
	/* The process is gone: its pid may be reused by a stranger. */
	if (targ_targets)
		bpf_map_delete_elem(&targets, &tgid);
	return 0;
}

/*
 * A target forks: its child becomes a target too. The tracepoint fires
 * before the child is woken, so the child's first instruction is already
 * recorded. A new thread shares its parent's tgid, which is present.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle__sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid, ctgid;
	struct scry_counters *c;
	__u8 one = 1;

	if (!targ_targets)
		return 0;
	ptgid = BPF_CORE_READ(parent, tgid);
	ctgid = BPF_CORE_READ(child, tgid);
	if (ptgid == ctgid || !bpf_map_lookup_elem(&targets, &ptgid))
		return 0;
	if (bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY)) {
		c = get_counters();
		if (c)
			c->targets_full++;
	}
	return 0;
}
