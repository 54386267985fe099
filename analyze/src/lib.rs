//! scry-analyze owns everything computed from a trace: state reconstruction
//! (threads, fds, users, containers), the sysdig/Falco-compatible filter
//! language and its fields, output formatting and summaries.
#![forbid(unsafe_code)]
