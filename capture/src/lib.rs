//! scry-capture owns the live side of scry: it loads the probe, drains the
//! per-CPU ring buffers into one time-ordered stream, snapshots `/proc`,
//! resolves containers and writes trace files through `scry-format`.
