//! scry-tui owns the terminal user interface: csysdig-style views with
//! drill-down over a trace, built on `scry-analyze`.
#![forbid(unsafe_code)]
