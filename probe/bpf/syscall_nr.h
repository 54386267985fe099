/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Syscall numbers the probe decodes specially. Only the syscalls named in the
 * parameter table (abi.h) are listed; every other number gets a generic
 * record. Values are the native 64-bit ABI of the target architecture
 * (arch/x86/entry/syscalls/syscall_64.tbl for x86_64).
 */
#ifndef SCRY_SYSCALL_NR_H
#define SCRY_SYSCALL_NR_H

#if defined(__TARGET_ARCH_x86)
#define SYS_read		0
#define SYS_write		1
#define SYS_open		2
#define SYS_close		3
#define SYS_mmap		9
#define SYS_mprotect		10
#define SYS_pread64		17
#define SYS_pwrite64		18
#define SYS_readv		19
#define SYS_writev		20
#define SYS_pipe		22
#define SYS_dup			32
#define SYS_dup2		33
#define SYS_socket		41
#define SYS_connect		42
#define SYS_accept		43
#define SYS_sendto		44
#define SYS_recvfrom		45
#define SYS_sendmsg		46
#define SYS_recvmsg		47
#define SYS_bind		49
#define SYS_listen		50
#define SYS_socketpair		53
#define SYS_clone		56
#define SYS_fork		57
#define SYS_vfork		58
#define SYS_execve		59
#define SYS_exit		60
#define SYS_kill		62
#define SYS_fcntl		72
#define SYS_chdir		80
#define SYS_fchdir		81
#define SYS_rename		82
#define SYS_mkdir		83
#define SYS_rmdir		84
#define SYS_creat		85
#define SYS_link		86
#define SYS_unlink		87
#define SYS_symlink		88
#define SYS_chmod		90
#define SYS_fchmod		91
#define SYS_chown		92
#define SYS_fchown		93
#define SYS_lchown		94
#define SYS_ptrace		101
#define SYS_setuid		105
#define SYS_setgid		106
#define SYS_setreuid		113
#define SYS_setregid		114
#define SYS_setgroups		116
#define SYS_setresuid		117
#define SYS_setresgid		119
#define SYS_setfsuid		122
#define SYS_setfsgid		123
#define SYS_capset		126
#define SYS_mount		165
#define SYS_umount2		166
#define SYS_init_module		175
#define SYS_tkill		200
#define SYS_exit_group		231
#define SYS_tgkill		234
#define SYS_openat		257
#define SYS_mkdirat		258
#define SYS_fchownat		260
#define SYS_unlinkat		263
#define SYS_renameat		264
#define SYS_linkat		265
#define SYS_symlinkat		266
#define SYS_fchmodat		268
#define SYS_unshare		272
#define SYS_accept4		288
#define SYS_dup3		292
#define SYS_pipe2		293
#define SYS_preadv		295
#define SYS_pwritev		296
#define SYS_setns		308
#define SYS_finit_module	313
#define SYS_renameat2		316
#define SYS_memfd_create	319
#define SYS_execveat		322
#define SYS_preadv2		327
#define SYS_pwritev2		328
#define SYS_clone3		435
#define SYS_openat2		437
#define SYS_fchmodat2		452
#else
#error "scry-probe: syscall numbers are only defined for x86_64"
#endif

#endif /* SCRY_SYSCALL_NR_H */
